//! The CLI's progress display: indicatif bars behind the libraries' progress traits,
//! hidden with `--quiet` or when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar for one stage.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(label: &'static str, unit: &'static str, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{prefix:>10}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}}"
            ))
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label);
        Bar { bar }
    }
}

impl Bar {
    /// Restarts the bar for a pass over `total` items.
    pub fn start_pass(&self, total: u64) {
        self.bar.reset();
        self.bar.set_length(total);
    }
}

impl esmc_sim::Progress for Bar {
    fn start(&self, total: u64) {
        self.bar.set_length(total);
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A spinner naming the current build stage.
pub struct Stages {
    bar: ProgressBar,
}

impl Stages {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Stages { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl esmc_pipeline::Progress for Stages {
    fn stage(&self, day: chrono::NaiveDate, stage: &str) {
        self.bar.set_message(format!("build {day}: {stage}"));
    }
}

impl esmc_trainer::train::Progress for Bar {
    fn start(&self, total: u64) {
        self.start_pass(total);
    }
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
