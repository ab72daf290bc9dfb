//! The bad-input catalogue (docs/bad-inputs.md), one test per row: a warehouse with a
//! built partition (2026-11-01 and 2026-11-02) and a trained run (`r`, one day) is copied,
//! broken in one way, and the `esmc` binary run on it as a user would. Each test checks
//! the exit code, that the message names the file, row, column or value at fault, and
//! that nothing already written is lost (the partition and the checkpoint keep their
//! bytes, or, where the input is accepted, the rebuilt partition is whole).
//!
//! One module per part of docs/bad-inputs.md; `harness` holds what they share.

mod columns;
mod commands;
mod files;
mod harness;
mod training;
