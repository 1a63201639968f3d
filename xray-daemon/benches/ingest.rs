//! Ingest benchmark (placeholder).
fn main() {}
