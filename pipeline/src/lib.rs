//! The sample builder: raw logs → sessionized, attributed, calibrated entire-space
//! samples (`shared/spec/semantics.md` §3-§7).
//!
//! Not built yet: issue 3 ("The sample builder") and issue 4 (features) fill this crate.
//! It exists now so that the workspace has its final shape and dependencies point one
//! way: `schemas` → `pipeline` (+ `sql`) → `trainer`.
