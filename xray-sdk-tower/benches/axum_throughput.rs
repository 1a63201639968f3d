//! Requests per second of an axum service with and without the layer (being written).

fn main() {}
