//! The CLI's progress display: indicatif bars behind the libraries' one progress trait,
//! hidden with `--quiet` or when stderr is not a terminal (a build shows a bar per stage).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

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

/// Simulation (users) and training or prediction (samples): a pass per `start`.
impl esmc_schemas::Progress for Bar {
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

/// The build's display: per stage, a bar of the stage's own unit (files checked, tables
/// cleaned, events attributed, feature steps, sample rows written) after the day and the
/// stage's name; a spinner until the stage reports its length.
///
/// ```text
/// ⠙ build 2026-11-02: attributing [==============>               ] 4,915,200/10,007,970 events eta 4s
/// ```
pub struct Stages {
    bar: ProgressBar,
    /// The unit of the current stage's bar, once it reported one.
    unit: Mutex<Option<String>>,
}

impl Stages {
    pub fn new(quiet: bool) -> Self {
        let bar = ProgressBar::new_spinner();
        if quiet || !std::io::stderr().is_terminal() {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        } else {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Stages {
            bar,
            unit: Mutex::new(None),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn spinner_style() -> ProgressStyle {
        ProgressStyle::with_template("{spinner} {msg}").expect("valid template")
    }

    fn bar_style(unit: &str) -> ProgressStyle {
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} eta {{eta}}"
        ))
        .expect("valid template")
        .progress_chars("=> ")
    }
}

impl esmc_schemas::Progress for Stages {
    fn stage(&self, day: chrono::NaiveDate, stage: &str) {
        *self.unit.lock().expect("progress unit") = None;
        self.bar.set_style(Self::spinner_style());
        self.bar.reset();
        self.bar.unset_length();
        self.bar.set_message(format!("build {day}: {stage}"));
    }

    fn position(&self, _day: chrono::NaiveDate, pos: u64, len: u64, unit: &str) {
        let mut current = self.unit.lock().expect("progress unit");
        if current.as_deref() != Some(unit) {
            self.bar.set_style(Self::bar_style(unit));
            *current = Some(unit.to_string());
        }
        self.bar.set_length(len);
        self.bar.set_position(pos);
    }
}
