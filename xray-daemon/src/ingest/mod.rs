//! Ingest: the UDP receive loop, and the turning of datagrams into validated records for the store.
//!
//! The pipeline is three threads joined by channels, so that the socket is drained at full speed whatever the
//! store does:
//!
//! 1. [`receiver`]: `recv_from` in a loop; each datagram is copied and queued. A byte budget bounds the queue;
//!    past it datagrams are dropped and counted, never buffered without limit. Each datagram is charged what it
//!    really costs in memory ([`budget::entry_cost`]), not only its payload.
//! 2. [`process`]: framing, JSON parsing and validation; valid documents become [`Record`]s, the others
//!    [`Rejected`] with their reason code.
//! 3. the store's writer ([`crate::store::writer`]) inserts batches in transactions.

pub mod budget;
pub mod discard;
pub mod extract;
pub mod pipeline;
pub mod process;
pub mod receiver;

use std::sync::mpsc::SyncSender;

/// What flows from the receive loop to the processing thread.
#[derive(Debug)]
pub enum Message {
    /// A datagram and the time it arrived, epoch seconds.
    Datagram(f64, Vec<u8>),
    /// Answer once everything queued before is committed to the store.
    Flush(SyncSender<()>),
}

pub use extract::{Flags, Record};
pub use process::{Item, Rejected, process_datagram};
