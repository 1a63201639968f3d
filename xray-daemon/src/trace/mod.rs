//! Traces as a whole: the assembly of a trace's documents into trees.

pub mod assemble;

pub use assemble::{AssembledTrace, assemble};
