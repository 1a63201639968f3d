//! Benchmarks of the wire model.

fn main() {}
