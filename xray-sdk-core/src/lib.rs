//! The X-Ray recorder: segments, subsegments, context propagation, sampling, emitters and configuration.

pub mod clock;
pub mod config;
pub mod sampling;
