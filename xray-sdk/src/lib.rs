#![doc = include_str!("../../README.md")]
//!
//! # This crate
//! `xray-sdk` is the crate to depend on. It re-exports the recorder ([`Recorder`], [`Entity`], the guards,
//! [`context`], [`sampling`], [`emitter`], [`config`]), the wire model ([`types`]) and the `#[capture]`
//! attribute, and turns on integrations by feature:
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` (default) | [`capture`] |
//! | `tokio` | [`context::spawn`] |
//! | `test-util` | `emitter::MemoryEmitter`, `clock::ManualClock` |

pub use xray_sdk_core::*;
#[cfg(feature = "macros")]
pub use xray_sdk_macros::capture;

#[doc(hidden)]
pub use xray_sdk_core::__private;
