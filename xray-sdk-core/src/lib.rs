//! The X-Ray recorder: segments, subsegments, context propagation, sampling, emitters and configuration.
//!
//! ```
//! use xray_sdk_core::Recorder;
//! # use xray_sdk_core::emitter::MemoryEmitter;
//! # let emitter = MemoryEmitter::new();
//!
//! let recorder = Recorder::builder()
//!     .service_name("orders")
//! #   .emitter(emitter.clone()).sampler(xray_sdk_core::sampling::AlwaysSample)
//!     .build()?;
//! let segment = recorder.begin_segment("orders");
//! {
//!     let sub = recorder.begin_subsegment("validate")?;
//!     sub.put_annotation("order_id", 42);
//! }
//! drop(segment); // the finished segment is sent to the daemon
//! # let docs = emitter.documents();
//! # assert_eq!(docs[0].subsegments[0].name, "validate");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | module | what it holds |
//! |---|---|
//! | [`recorder`] | [`Recorder`], its builder, the global recorder |
//! | [`entity`] | [`Entity`] handles: the segments and subsegments being recorded |
//! | [`context`] | the current entity, across threads and async tasks, and the guards that end entities |
//! | [`sampling`] | the [`Sampler`](sampling::Sampler) trait and samplers |
//! | [`emitter`] | the UDP emitter, encoding within the UDP limit, the in-memory emitter |
//! | [`config`] | daemon address, context-missing strategy, environment |
//! | [`clock`] | injectable time |
//! | [`plugins`] | where the service runs: Elastic Beanstalk, EKS, ECS, EC2 |
//! | [`http`] | what every HTTP server and client integration records, framework-neutral |
//!
//! # Concurrency
//! A recorder and its entities are `Send + Sync`. Any thread may record into any entity; each segment's tree
//! sits behind one short-held lock. Nothing here blocks on I/O: documents go to the emitter's bounded queue.
//!
//! Modules depend on each other in one direction only: `config` and `clock` ← `emitter` ← `entity` ←
//! `context` ← `recorder` and `sampling` ← `http`. Recording needs no sampler and no recorder: an entity's tree
//! holds only the clock, the emitter and the limits it needs once the sampling decision is made.
//!
//! # Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `udp-emitter` | yes | [`emitter::UdpEmitter`], the default emitter, sending to the daemon |
//! | `centralized-sampling` | yes | [`sampling::CentralizedSampler`], the default sampler, polling the daemon's rules |
//! | `plugins` | no | [`plugins`]: where the service runs — Elastic Beanstalk, EKS, ECS, EC2 (`RecorderBuilder::plugins`) |
//! | `tokio` | no | `context::spawn`, which spawns a task that continues the current trace |
//! | `test-util` | no | `MemoryEmitter` and `ManualClock` |
//!
//! Integration crates depend on this crate without its default features; the `xray-sdk` umbrella turns them on.

#[doc(hidden)]
pub mod __private;
pub mod clock;
pub mod config;
pub mod context;
pub mod emitter;
pub mod entity;
mod error;
// The checks of the fuzz targets (`fuzz/`), for them and for the tests that replay what they found.
#[cfg(all(
    any(test, fuzzing),
    any(feature = "centralized-sampling", feature = "plugins")
))]
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
#[cfg(any(feature = "centralized-sampling", feature = "plugins"))]
mod net;
pub mod plugins;
pub mod recorder;
pub mod sampling;

pub use context::{FutureExt, SegmentGuard, SubsegmentGuard};
pub use entity::Entity;
pub use error::{BuildError, ContextMissingError};
pub use recorder::{FlushGuard, Recorder, RecorderBuilder, global, install};
pub use xray_sdk_types as types;
