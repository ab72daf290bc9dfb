//! `esmc import`: public datasets into a warehouse. `taobao` turns Alibaba's
//! UserBehavior log into raw logs for `esmc build`; `ali-ccp` turns the ESMM paper's
//! click-and-conversion set into sample partitions for `esmc train`.

mod aliccp;
mod aliccp_parse;
mod out;
mod stage;
mod taobao;
mod taobao_dims;
mod taobao_rows;

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    source: Source,
}

#[derive(clap::Subcommand)]
enum Source {
    /// Taobao UserBehavior CSV -> raw logs (exposure+click per pv, cart, wish, purchase,
    /// user and item snapshots); then `esmc build` as on any warehouse.
    Taobao(taobao::Args),
    /// Ali-CCP skeleton + common features -> one day of samples and a feature spec
    /// (`<root>/ali_ccp_features.toml`) for `esmc train`.
    AliCcp(aliccp::Args),
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    match args.source {
        Source::Taobao(a) => taobao::run(a, quiet),
        Source::AliCcp(a) => aliccp::run(a, quiet),
    }
}
