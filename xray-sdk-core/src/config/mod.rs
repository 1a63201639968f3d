//! Configuration: names and precedence of the other X-Ray SDKs, read through an injectable environment.

mod context_missing;
mod daemon_address;
pub mod env;

pub use context_missing::{ContextMissing, UnknownStrategy};
pub use daemon_address::{DaemonAddress, DaemonAddressError, Endpoint};
pub use env::{EnvSource, MapEnv, ProcessEnv};
