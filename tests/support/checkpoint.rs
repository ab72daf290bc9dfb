//! Reading a checkpoint back for tests that compare trainings tensor by tensor.

use std::path::Path;

/// Every tensor of a checkpoint (parameters, tables, optimizer state), by name.
pub fn state(w: &Path, run: &str, day: &str) -> Vec<(String, Vec<f32>)> {
    let dir = w.join("models").join(run).join(format!("dt={day}"));
    let (t, _) = esmc_trainer::checkpoint::load(&dir).unwrap();
    let net = t.model.net();
    let mut out: Vec<(String, Vec<f32>)> = net
        .ps
        .names
        .iter()
        .zip(&net.ps.tensors)
        .map(|(n, x)| (n.clone(), Vec::<f32>::try_from(x.flatten(0, -1)).unwrap()))
        .collect();
    for e in &net.emb {
        for (n, x) in e.names.iter().zip(&e.tables) {
            out.push((n.clone(), Vec::<f32>::try_from(x.flatten(0, -1)).unwrap()));
        }
    }
    out.push(("step".into(), vec![t.optim.step as f32]));
    out
}
