//! Talking to the plain-HTTP endpoints around the service: the daemon's sampling API and metadata services.

pub(crate) mod http1;
