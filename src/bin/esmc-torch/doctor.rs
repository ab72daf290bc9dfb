//! `esmc doctor`: proves the installation works: libtorch found at run time, autograd
//! and an optimizer training a small model.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// Optimizer steps of the check fit.
    #[arg(long, default_value_t = 100)]
    steps: usize,
}

pub fn run(args: Args) -> Result<()> {
    let r = esmc_trainer::torch_report(args.steps)?;
    println!(
        "libtorch   linked, {} threads, cuda visible: {}",
        r.threads, r.cuda
    );
    println!(
        "check fit  log loss {:.4} -> {:.4} after {} Adam steps",
        r.loss_before, r.loss_after, r.steps
    );
    anyhow::ensure!(
        r.loss_after < r.loss_before,
        "the check fit did not learn: libtorch is not working"
    );
    println!("ok");
    Ok(())
}
