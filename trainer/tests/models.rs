//! The model family on a small simulated world and on fixed numbers: SCM formulas,
//! learning, the ESMC constraint's gradient, sparse updates, spec errors, checkpoints.

mod common;

use common::{small_config, trainer, world};
use esmc_trainer::data::{self, Loader, LoaderConfig};
use esmc_trainer::models::{self, esm2, esmc, hm3};
use esmc_trainer::train::{Silent, evaluate};
use esmc_trainer::{FeatureSpec, ModelKind, checkpoint};
use std::sync::Arc;
use tch::Tensor;

fn t(v: f64) -> Tensor {
    Tensor::from_slice(&[v as f32])
}

fn close(a: &Tensor, b: f64) {
    let a = a.double_value(&[0]);
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn esm2_composition_is_the_papers() {
    // y1 click, y2 DAction|click, y3 buy|DAction, y4 buy|OAction
    let y = [t(0.3), t(0.6), t(0.7), t(0.2)];
    let (ctavr, cvr, ctcvr) = esm2::compose(&y);
    close(&ctavr, 0.3 * 0.6);
    close(&cvr, 0.6 * 0.7 + 0.4 * 0.2);
    close(&ctcvr, 0.3 * (0.6 * 0.7 + 0.4 * 0.2));
}

#[test]
fn hm3_composition_is_the_papers() {
    let (y1, y2, y3, y4, y5, y6) = (0.3, 0.6, 0.7, 0.2, 0.4, 0.1);
    let y = [t(y1), t(y2), t(y3), t(y4), t(y5), t(y6)];
    let (dmi, dma, cvr, ctcvr) = hm3::compose(&y);
    close(&dmi, y1 * y2);
    close(&dma, y1 * (y2 * y3 + (1.0 - y2) * y5));
    let paper = y1 * y4 * (y2 * y3 + (1.0 - y2) * y5)
        + y1 * y6 * (y2 * (1.0 - y3) + (1.0 - y2) * (1.0 - y5));
    close(&ctcvr, paper);
    close(&cvr, paper / y1);
}

fn first_batch(
    spec: &Arc<esmc_trainer::spec::Resolved>,
    norm: &Arc<data::NormStats>,
    n: usize,
) -> data::Batch {
    let w = world();
    let mut loader = Loader::start(
        w.files(w.train_day),
        spec.clone(),
        norm.clone(),
        LoaderConfig {
            batch_size: n,
            shuffle_rows: 0,
            seed: 0,
        },
    );
    loader.next_batch().unwrap().unwrap()
}

#[test]
fn every_models_heads_compose_as_products_of_probabilities() {
    for kind in ModelKind::ALL {
        let tr = trainer(small_config(kind));
        let batch = first_batch(&tr.spec, &tr.norm, 256);
        let pass = tch::no_grad(|| tr.model.forward(&batch, false));
        let h = &pass.heads;
        for p in [&h.ctr, &h.cvr, &h.ctcvr] {
            assert_eq!(p.size(), vec![256]);
            assert!(p.min().double_value(&[]) >= 0.0 && p.max().double_value(&[]) <= 1.0);
        }
        // pCTCVR = pCTR * pCVR for every model but MMoE, whose towers give pCTR and
        // pCTCVR directly (nothing keeps pCTCVR <= pCTR) and pCVR is their clamped quotient
        let diff = if kind == ModelKind::Mmoe {
            (&h.cvr - (&h.ctcvr / &h.ctr).clamp(0.0, 1.0))
                .abs()
                .max()
                .double_value(&[])
        } else {
            (&h.ctcvr - &h.ctr * &h.cvr).abs().max().double_value(&[])
        };
        assert!(
            diff < 1e-5,
            "{kind}: pCTCVR differs from pCTR*pCVR by {diff}"
        );
        assert!(pass.loss.double_value(&[]).is_finite(), "{kind}");
    }
}

#[test]
fn esmc_constraint_pulls_the_cvr_tower_and_not_the_detached_car_tower() {
    let tr = trainer(small_config(ModelKind::Esmc));
    let m = esmc::Esmc::new(&tr.spec, &tr.cfg, esmc::Variant::Esmc);
    let d = esmc::constraint(&m.car, &m.cvr, true);
    assert!(d.double_value(&[]) > 0.0, "independent towers differ");
    d.backward();
    for (car, cvr) in m.car.layers.iter().zip(&m.cvr.layers) {
        let g = cvr.weight.grad();
        assert!(g.defined() && g.abs().sum(tch::Kind::Float).double_value(&[]) > 0.0);
        let g = car.weight.grad();
        assert!(!g.defined() || g.abs().sum(tch::Kind::Float).double_value(&[]) == 0.0);
    }
    // undetached: both towers receive the gradient
    let m = esmc::Esmc::new(&tr.spec, &tr.cfg, esmc::Variant::Esmc);
    esmc::constraint(&m.car, &m.cvr, false).backward();
    assert!(
        m.car.layers[0]
            .weight
            .grad()
            .abs()
            .sum(tch::Kind::Float)
            .double_value(&[])
            > 0.0
    );
    // equal towers: no divergence
    tch::no_grad(|| {
        for (car, cvr) in m.car.layers.iter().zip(&m.cvr.layers) {
            let mut w = cvr.weight.shallow_clone();
            w.copy_(&car.weight);
        }
    });
    assert!(
        esmc::constraint(&m.car, &m.cvr, true)
            .double_value(&[])
            .abs()
            < 1e-6
    );
}

#[test]
fn esms_stores_one_tower_for_car_and_cvr() {
    let count = |kind| {
        let tr = trainer(small_config(kind));
        let ps = &tr.model.net().ps;
        (ps.numel(), ps.names.clone())
    };
    let (esmc_n, _) = count(ModelKind::Esmc);
    let (esmm_n, _) = count(ModelKind::Esmm);
    let (esms_n, names) = count(ModelKind::Esms);
    assert_eq!(esms_n, esmm_n, "ESMS has two towers, as ESMM");
    assert!(esmc_n > esms_n, "ESMC stores a third tower");
    assert!(names.iter().any(|n| n.starts_with("siamese.")));
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("car.") || n.starts_with("cvr."))
    );
}

#[test]
fn a_step_updates_only_the_embedding_rows_the_batch_touched() {
    let mut tr = trainer(small_config(ModelKind::Esmm));
    let batch = first_batch(&tr.spec, &tr.norm, 64);
    let before: Vec<Tensor> = tr.model.net().emb[0]
        .tables
        .iter()
        .map(|t| t.copy())
        .collect();
    tr.step(&batch);
    let spec = tr.spec.clone();
    for (ti, (b, a)) in before.iter().zip(&tr.model.net().emb[0].tables).enumerate() {
        let changed = (a - b)
            .abs()
            .sum_dim_intlist(1, false, tch::Kind::Float)
            .gt(0.0);
        let changed: Vec<i64> = Vec::try_from(changed.nonzero().view([-1])).unwrap();
        let mut touched: Vec<i64> = spec
            .sparse
            .iter()
            .enumerate()
            .filter(|(_, f)| spec.regions[f.region].table == ti)
            .flat_map(|(i, _)| Vec::<i64>::try_from(&batch.sparse[i]).unwrap())
            .collect();
        touched.sort_unstable();
        touched.dedup();
        assert_eq!(
            changed, touched,
            "table {ti}: only touched rows move, all of them"
        );
    }
}

#[test]
fn feature_spec_errors_name_the_field_and_the_problem() {
    let w = world();
    let schema = data::file_schema(&w.files(w.train_day)[0]).unwrap();
    let check = |toml: &str, want: &str| {
        let spec = FeatureSpec::from_toml(toml).unwrap();
        let e = spec.resolve(Some(&schema), 8).unwrap_err().to_string();
        assert!(e.contains(want), "'{e}' does not say '{want}'");
    };
    check("[[sparse]]\ncolumn = \"no_such\"\n", "no column 'no_such'");
    check(
        "[[sparse]]\ncolumn = \"purchase\"\n",
        "'purchase' is a label column",
    );
    check("[[dense]]\ncolumn = \"cart_cal\"\n", "label column");
    check(
        "[[sparse]]\ncolumn = \"item_id\"\nbuckets = 0\n",
        "buckets must be in 1..=2^31, got 0",
    );
    check(
        "[[sparse]]\ncolumn = \"item_id\"\ndim = 0\n",
        "dim must be positive",
    );
    check(
        "[[sparse]]\ncolumn = \"item_id\"\ngroup = \"g\"\nbuckets = 10\n[[sparse]]\ncolumn = \"shop_id\"\ngroup = \"g\"\nbuckets = 20\n",
        "group 'g' was declared with 10 buckets",
    );
    check("[[dense]]\ncolumn = \"psc_case\"\n", "label column");
    check(
        "[[dense]]\ncolumn = \"user_id\"\nboundaries = [3.0, 1.0]\n",
        "strictly ascending",
    );
    let e = FeatureSpec::from_toml("[[sparse]]\ncolum = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `colum`"), "{e}");
}

#[test]
fn a_checkpoint_scores_exactly_as_the_model_it_saved() {
    let w = world();
    let mut tr = trainer(small_config(ModelKind::Esmc));
    tr.train_files(&w.files(w.train_day), 1, &Silent).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("dt=x");
    checkpoint::save(&ck, &tr, &serde_json::json!({"day": "x"})).unwrap();
    let (loaded, meta) = checkpoint::load(&ck).unwrap();
    assert_eq!(meta["day"], "x");
    assert_eq!(loaded.optim.step, tr.optim.step);
    let files = w.files(w.test_day);
    let a = tr.predict_files(&files, &Silent).unwrap();
    let b = loaded.predict_files(&files, &Silent).unwrap();
    assert_eq!(a.ctcvr, b.ctcvr);
    assert_eq!(a.cvr, b.cvr);
}

/// Trains `kind` two epochs on the training day and evaluates on the next day.
fn learns(kind: ModelKind) {
    let w = world();
    let mut tr = trainer(small_config(kind));
    let files = w.files(w.train_day);
    let first = tr.train_files(&files, 1, &Silent).unwrap();
    let second = tr.train_files(&files, 2, &Silent).unwrap();
    let e = evaluate(&tr.predict_files(&w.files(w.test_day), &Silent).unwrap());
    let (ctr, ctcvr, cvr) = (e.ctr.auc.unwrap(), e.ctcvr.auc.unwrap(), e.cvr.auc.unwrap());
    eprintln!(
        "{kind:<13} loss {:.4} -> {:.4}  CTR-AUC {ctr:.4} CTCVR-AUC {ctcvr:.4} CVR-AUC {cvr:.4}",
        first.first_loss, second.last_loss
    );
    assert!(
        second.last_loss < first.first_loss * 0.9,
        "{kind}: loss did not fall"
    );
    assert!(ctr > 0.6, "{kind}: CTR-AUC {ctr}");
    assert!(ctcvr > 0.6, "{kind}: CTCVR-AUC {ctcvr}");
    assert!(cvr > 0.55, "{kind}: CVR-AUC {cvr}");
}

macro_rules! learning_tests {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(#[test] fn $name() { learns($kind) })*
    };
}

learning_tests! {
    base_learns => ModelKind::Base,
    dnn_os_learns => ModelKind::DnnOs,
    shared_bottom_learns => ModelKind::SharedBottom,
    mmoe_learns => ModelKind::Mmoe,
    esmm_learns => ModelKind::Esmm,
    esmm_ns_learns => ModelKind::EsmmNs,
    esm2_learns => ModelKind::Esm2,
    hm3_learns => ModelKind::Hm3,
    esmc_learns => ModelKind::Esmc,
    esms_learns => ModelKind::Esms,
    esmc2_learns => ModelKind::Esmc2,
    esms2_learns => ModelKind::Esms2,
    esmc_minus_learns => ModelKind::EsmcMinus,
}

#[test]
fn model_names_parse_and_unknown_ones_are_refused() {
    for kind in ModelKind::ALL {
        assert_eq!(kind.name().parse::<ModelKind>().unwrap(), kind);
    }
    assert_eq!("ESMC-".parse::<ModelKind>().unwrap(), ModelKind::EsmcMinus);
    let e = "esmx".parse::<ModelKind>().unwrap_err().to_string();
    assert!(e.contains("unknown model 'esmx'"), "{e}");
    let _ = models::EPS;
}
