//! SQLite-only fast paths: what the embedded default does its own way because SQLite's driver
//! costs per row and per value dominated the batch.

#[allow(unsafe_code)] // the one place that calls SQLite's C interface (bulk writes)
pub(crate) mod rows;
