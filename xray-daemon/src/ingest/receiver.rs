//! The UDP socket and its receive loop.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use xray_sdk_types::framing::MAX_DATAGRAM_SIZE;

use super::Message;
use super::budget::entry_cost;
use crate::error::Error;
use crate::stats::Stats;

/// The receive buffer: larger than any UDP payload.
const RECEIVE_BUFFER: usize = 65_536;
const _: () = assert!(RECEIVE_BUFFER > MAX_DATAGRAM_SIZE);

/// How often the receive loop looks at the stop flag when no datagram arrives.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Binds the UDP socket, asking the kernel for a receive buffer of `receive_buffer` bytes.
///
/// # Errors
/// [`Error::Bind`] when the address is taken or not local.
pub fn bind(address: SocketAddr, receive_buffer: usize) -> Result<UdpSocket, Error> {
    let bind_error = |source| Error::Bind { address, source };
    let socket = Socket::new(
        Domain::for_address(address),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .map_err(bind_error)?;
    if let Err(e) = socket.set_recv_buffer_size(receive_buffer) {
        log::warn!("cannot set the UDP receive buffer to {receive_buffer} bytes: {e}");
    }
    socket.bind(&address.into()).map_err(bind_error)?;
    let socket: UdpSocket = socket.into();
    socket
        .set_read_timeout(Some(POLL_INTERVAL))
        .map_err(|source| Error::Io {
            context: "setting the UDP read timeout",
            source,
        })?;
    Ok(socket)
}

/// What the receive loop shares with the rest of the daemon.
pub struct Receiver {
    /// The bound socket.
    pub socket: UdpSocket,
    /// Where datagrams go.
    pub queue: Sender<Message>,
    /// Set to stop the loop.
    pub stop: Arc<AtomicBool>,
    /// Counters, and the queue's budget: datagrams that do not fit are dropped.
    pub stats: Arc<Stats>,
}

impl Receiver {
    /// Receives until `stop` is set or the queue is gone. Never blocks on anything but the socket.
    pub fn run(self) {
        // Room for any UDP payload (IPv6 allows more than IPv4's 65,507 bytes), so that an oversize datagram is
        // counted with its real size.
        let mut buf = vec![0u8; RECEIVE_BUFFER];
        while !self.stop.load(Ordering::Relaxed) {
            let n = match self.socket.recv_from(&mut buf) {
                Ok((n, _from)) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(e) => {
                    // ICMP errors and the like: log and go on; the socket stays usable.
                    log::debug!("UDP receive error: {e}");
                    continue;
                }
            };
            if n == 0 {
                continue;
            }
            if !self.stats.queue().try_charge(entry_cost(n)) {
                self.stats.add_received(n);
                self.stats.add_dropped();
                log::warn!(
                    "ingest queue full ({} bytes): datagram of {n} bytes dropped",
                    self.stats.queue().used()
                );
                continue;
            }
            let datagram = buf[..n].to_vec();
            if self
                .queue
                .send(Message::Datagram(xray_sdk_types::time::now(), datagram))
                .is_err()
            {
                break;
            }
            // Counted once queued, so that a flush requested after seeing the count also covers it.
            self.stats.add_received(n);
        }
    }
}
