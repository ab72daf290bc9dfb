//! The papers' claims, the worlds they are tested in and the sizes of a claims run.
//!
//! A claim says model A beats model B on a metric because of a mechanism of the data.
//! It is tested in the default world with that mechanism turned on (`SimConfig::with`)
//! and, as a control, in the default world without it.

use crate::compare::paired::Metric;
use esmc_sim::{Mechanism, Preset, SimConfig};
use esmc_trainer::ModelKind;

/// How a model of an arm is configured (on top of the claims' shared config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Config {
    /// The shared config (ESMC's w4 at its default).
    Shared,
    /// The shared config with ESMC's constraint off (w4 = 0).
    NoConstraint,
}

impl Config {
    pub fn name(self) -> &'static str {
        match self {
            Config::Shared => "shared",
            Config::NoConstraint => "w4-0",
        }
    }
}

/// One side of a claim: a model under a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Side {
    pub model: ModelKind,
    pub config: Config,
}

impl Side {
    const fn of(model: ModelKind) -> Side {
        Side {
            model,
            config: Config::Shared,
        }
    }

    pub fn label(self) -> String {
        match self.config {
            Config::Shared => self.model.name().to_string(),
            Config::NoConstraint => format!("{} (w4 = 0)", self.model.name()),
        }
    }
}

/// A claim of the papers: A is better than B on `metric` thanks to `mechanism`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub text: &'static str,
    pub a: Side,
    pub b: Side,
    pub metric: Metric,
    pub mechanism: Mechanism,
}

/// Every claim tested, in the order of the table.
pub fn claims() -> Vec<Claim> {
    use Mechanism::*;
    use Metric::*;
    use ModelKind::*;
    let c = |text, a, b, metric, mechanism| Claim {
        text,
        a: Side::of(a),
        b: Side::of(b),
        metric,
        mechanism,
    };
    let mut out = vec![
        c(
            "ESMM > BASE (clicked space)",
            Esmm,
            Base,
            CvrAuc,
            SelectionBias,
        ),
        c(
            "ESMM > BASE (entire space)",
            Esmm,
            Base,
            EsCvrEauc,
            SelectionBias,
        ),
        c(
            "shared embedding > own (ESMM > ESMM-NS)",
            Esmm,
            EsmmNs,
            EsCvrEauc,
            ClickTransfer,
        ),
        c("ESM² > ESMM", Esm2, Esmm, EsCvrEauc, InformativeMicro),
        c("HM³ > ESM²", Hm3, Esm2, EsCvrEauc, InformativeMicro),
        c("ESMC > ESM²", Esmc, Esm2, EsCvrEauc, CartElsewhere),
        c(
            "ESMC > ESMC⁻ (calibration)",
            Esmc,
            EsmcMinus,
            EsCvrCalibrationError,
            CartElsewhere,
        ),
        c(
            "ESMS > ESM² on bad cases",
            Esms,
            Esm2,
            CvrBadAuc,
            CartElsewhere,
        ),
        c("ESMC² > ESMC", Esmc2, Esmc, EsCvrEauc, CartElsewhere),
    ];
    out.push(Claim {
        text: "ESMC constraint helps (w4 > 0 vs w4 = 0)",
        a: Side::of(Esmc),
        b: Side {
            model: Esmc,
            config: Config::NoConstraint,
        },
        metric: EsCvrEauc,
        mechanism: CartElsewhere,
    });
    out
}

/// A world of a claims run: the default one, or the default with one mechanism on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    Default,
    With(Mechanism),
}

impl World {
    /// The default world first, then the mechanisms in `Mechanism::ALL` order.
    fn rank(self) -> usize {
        match self {
            World::Default => 0,
            World::With(m) => 1 + Mechanism::ALL.iter().position(|x| *x == m).unwrap_or(0),
        }
    }

    pub fn name(self) -> String {
        match self {
            World::Default => "default".into(),
            World::With(m) => format!("with-{m}"),
        }
    }

    /// The simulator's config of this world at `scale`.
    pub fn sim(self, scale: &Scale) -> SimConfig {
        let cfg = SimConfig::sized(
            Preset::Eleme,
            scale.exposures,
            (scale.train_days + 1 + 3) as u32,
            SEED,
        );
        match self {
            World::Default => cfg,
            World::With(m) => cfg.with(m, true),
        }
    }
}

impl PartialOrd for World {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for World {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

/// Seed of every world.
pub const SEED: u64 = 42;

/// The size of a claims run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub name: &'static str,
    /// Rec exposures a day.
    pub exposures: u64,
    /// Train days; the day after them is the test day.
    pub train_days: u64,
    pub seeds: u64,
    /// The training config shared by every model (TOML).
    pub config: &'static str,
}

/// Small towers and a quick learning rate, for the quick and test sizes.
const SMALL_CONFIG: &str = "embedding_dim = 8\nhidden = [64, 32]\nbatch_size = 512\n\
                            [optimizer]\nkind = \"adam\"\nlr = 0.003\n";

impl Scale {
    /// `full`: 100k exposures a day, 6 train days, 3 seeds, the default config.
    pub fn full() -> Scale {
        Scale {
            name: "full",
            exposures: 100_000,
            train_days: 6,
            seeds: 3,
            config: "",
        }
    }

    /// `quick`: 50k exposures a day, 4 train days, 3 seeds, small towers (about 5 min
    /// on 2 cores).
    pub fn quick() -> Scale {
        Scale {
            name: "quick",
            exposures: 50_000,
            train_days: 4,
            seeds: 3,
            config: SMALL_CONFIG,
        }
    }

    /// `tiny` (tests; `ESMC_CLAIMS_SCALE=tiny`): 4k exposures a day, 2 train days, 1 seed.
    pub fn tiny() -> Scale {
        Scale {
            name: "tiny",
            exposures: 4_000,
            train_days: 2,
            seeds: 1,
            config: SMALL_CONFIG,
        }
    }
}
