//! The names most programs use, for `use xray_sdk::prelude::*`: the recorder and its guards, and the type each
//! enabled integration adds. Only types and functions, every one named `Xray…` or after the recorder, so that a
//! glob import never hides a crate: `tower`, `reqwest`, `http` or `tracing` still mean those crates. (A glob
//! import of the crate's root would bring its modules `tower`, `reqwest`, `http`, … into scope instead.)
//!
//! ```
//! use xray_sdk::prelude::*;
//!
//! let recorder = Recorder::builder()
//!     .emitter(xray_sdk::emitter::NoopEmitter)
//!     .build()
//!     .expect("a recorder");
//! let segment = recorder.segment("checkout").begin();
//! assert!(segment.entity().is_segment());
//! ```

#[cfg(feature = "macros")]
pub use crate::capture;
pub use crate::{
    ContextMissingError, Entity, FlushGuard, FutureExt, Recorder, RecorderBuilder, SegmentGuard,
    SubsegmentGuard, global, install,
};

#[cfg(feature = "actix")]
pub use crate::actix::XrayActixMiddleware;
#[cfg(feature = "aws")]
pub use crate::aws::XrayAws;
#[cfg(feature = "lambda")]
pub use crate::lambda::XrayLambdaLayer;
#[cfg(feature = "reqwest")]
pub use crate::reqwest::XrayReqwestMiddleware;
#[cfg(feature = "diesel")]
pub use crate::sql::diesel::XrayDieselInstrumentation;
#[cfg(feature = "rusqlite")]
pub use crate::sql::rusqlite::XraySqliteConnection;
#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite"
))]
pub use crate::sql::sqlx::XraySqlxPool;
#[cfg(feature = "tokio-postgres")]
pub use crate::sql::tokio_postgres::XrayPgClient;
#[cfg(feature = "tower")]
pub use crate::tower::{XrayHttpClientLayer, XrayHttpLayer};
#[cfg(feature = "tracing")]
pub use crate::tracing_bridge::XrayLayer;
