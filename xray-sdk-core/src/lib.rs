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
//! # Ok::<(), xray_sdk_core::Error>(())
//! ```
//!
//! | module | what it holds |
//! |---|---|
//! | [`recorder`] | [`Recorder`], its builder, the global recorder |
//! | [`entity`] | [`Entity`] handles and the guards that end them |
//! | [`context`] | the current entity, across threads and async tasks |
//! | [`sampling`] | the [`Sampler`](sampling::Sampler) trait and samplers |
//! | [`emitter`] | the UDP emitter, encoding within the UDP limit, the in-memory emitter |
//! | [`config`] | daemon address, context-missing strategy, environment |
//! | [`clock`] | injectable time |
//! | [`http`] | what every HTTP server and client integration records, framework-neutral |
//!
//! # Concurrency
//! A recorder and its entities are `Send + Sync`. Any thread may record into any entity; each segment's tree
//! sits behind one short-held lock. Nothing here blocks on I/O: documents go to the emitter's bounded queue.
//!
//! # Features
//! - `tokio`: `context::spawn`, which spawns a task that continues the current trace.
//! - `test-util`: `MemoryEmitter` and `ManualClock`.

#[doc(hidden)]
pub mod __private;
pub mod clock;
pub mod config;
pub mod context;
pub mod emitter;
pub mod entity;
mod error;
pub mod http;
pub mod recorder;
pub mod sampling;

pub use context::FutureExt;
pub use entity::{Entity, SegmentGuard, SubsegmentGuard};
pub use error::Error;
pub use recorder::{Recorder, RecorderBuilder, global, set_global};
pub use xray_sdk_types as types;
