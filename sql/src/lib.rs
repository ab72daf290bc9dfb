//! SQL over a warehouse (`esmc sql`) and the catalogue of named queries in
//! `sql/queries/`.
//!
//! Not built yet: issue 5 fills this crate with a DataFusion `SessionContext` over the
//! warehouse. It exists now so that the workspace has its final shape.
