//! The two readings of ESMC's parameter constraint and the tower gap every ESMC model
//! reports: the gaussian reading is half the squared weight gap, its gradient pulls the
//! CVR tower by exactly the gap, and the config selects the reading.

mod common;

use common::{small_config, trainer};
use esmc_trainer::models::{Model, esmc};
use esmc_trainer::{Constraint, ModelKind, TrainConfig};
use tch::Kind;

#[test]
fn the_gaussian_reading_is_half_the_tower_gap_and_pulls_by_the_gap() {
    let tr = trainer(small_config(ModelKind::Esmc));
    let m = esmc::Esmc::new(&tr.spec, &tr.cfg, esmc::Variant::Esmc);
    let gap = m.tower_gap().expect("ESMC reports its tower gap");
    let by_hand: f64 = m
        .car
        .layers
        .iter()
        .zip(&m.cvr.layers)
        .map(|(a, b)| {
            let (a, b) = (
                Vec::<f32>::try_from(a.weight.flatten(0, -1)).unwrap(),
                Vec::<f32>::try_from(b.weight.flatten(0, -1)).unwrap(),
            );
            a.iter()
                .zip(&b)
                .map(|(x, y)| f64::from(x - y).powi(2))
                .sum::<f64>()
        })
        .sum();
    assert!(
        gap > 0.0 && (gap - by_hand).abs() < 1e-6 * by_hand,
        "{gap} vs {by_hand}"
    );
    let d = esmc::divergence(&m.car, &m.cvr, Constraint::Gaussian, true);
    assert!((d.double_value(&[]) - gap / 2.0).abs() < 1e-4 * gap);
    d.backward();
    for (car, cvr) in m.car.layers.iter().zip(&m.cvr.layers) {
        // d/dW_cvr of ||W_car - W_cvr||^2 / 2 = W_cvr - W_car
        let want = &cvr.weight - &car.weight;
        let err = (cvr.weight.grad() - want).abs().max().double_value(&[]);
        assert!(err < 1e-6, "gradient off by {err}");
        let g = car.weight.grad();
        assert!(!g.defined() || g.abs().sum(Kind::Float).double_value(&[]) == 0.0);
    }
    // the softmax reading is far smaller on the same towers
    let s = esmc::divergence(&m.car, &m.cvr, Constraint::Softmax, true).double_value(&[]);
    assert!(
        s > 0.0 && s < gap / 2.0,
        "softmax {s}, gaussian {}",
        gap / 2.0
    );
    // models without a CAR/CVR pair report none
    let esmm = trainer(small_config(ModelKind::Esmm));
    assert!(esmm.model.tower_gap().is_none());
}

#[test]
fn the_config_selects_the_reading_and_defaults_to_softmax() {
    assert_eq!(TrainConfig::default().constraint, Constraint::Softmax);
    let cfg: TrainConfig = toml::from_str("constraint = \"gaussian\"\n").unwrap();
    assert_eq!(cfg.constraint, Constraint::Gaussian);
    assert!(toml::from_str::<TrainConfig>("constraint = \"l1\"\n").is_err());
    let text = toml::to_string(&cfg).unwrap();
    assert!(text.contains("constraint = \"gaussian\""), "{text}");
}
