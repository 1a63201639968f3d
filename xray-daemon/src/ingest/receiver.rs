//! The UDP socket and its receive loop.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

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

/// How often dropped datagrams are reported in the log, at most.
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Datagrams dropped at the full queue, reported in the log with their count once per interval rather than one
/// line each (a flood would otherwise write thousands of lines a second).
#[derive(Debug, Default)]
pub struct DropLog {
    last_report: Option<Instant>,
    datagrams: u64,
    bytes: u64,
}

impl DropLog {
    /// Counts one dropped datagram of `bytes` bytes at `now`. Returns the line to log: at once for the first drop,
    /// then when [`DROP_LOG_INTERVAL`] has passed since the last line.
    pub fn dropped(&mut self, bytes: usize, now: Instant) -> Option<String> {
        self.datagrams += 1;
        self.bytes += bytes as u64;
        self.report(now)
    }

    /// Returns the line to log for drops not reported yet, once [`DROP_LOG_INTERVAL`] has passed since the last
    /// line.
    pub fn report(&mut self, now: Instant) -> Option<String> {
        if self.datagrams == 0
            || self
                .last_report
                .is_some_and(|last| now.saturating_duration_since(last) < DROP_LOG_INTERVAL)
        {
            return None;
        }
        let line = match self.last_report {
            Some(last) => format!(
                "ingest queue full or behind: {} datagrams ({} bytes) dropped in the last {:.0} s",
                self.datagrams,
                self.bytes,
                now.saturating_duration_since(last).as_secs_f64()
            ),
            None => format!(
                "ingest queue full or behind: {} datagrams ({} bytes) dropped; further drops are reported every {} s",
                self.datagrams,
                self.bytes,
                DROP_LOG_INTERVAL.as_secs()
            ),
        };
        self.last_report = Some(now);
        self.datagrams = 0;
        self.bytes = 0;
        Some(line)
    }
}

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
    /// The longest a datagram may wait to be written: while the oldest one queued has waited longer, new ones
    /// are dropped and counted.
    pub max_write_delay: Duration,
}

impl Receiver {
    /// Receives until `stop` is set or the queue is gone. Never blocks on anything but the socket.
    pub fn run(self) {
        // Room for any UDP payload (IPv6 allows more than IPv4's 65,507 bytes), so that an oversize datagram is
        // counted with its real size.
        let mut buf = vec![0u8; RECEIVE_BUFFER];
        let mut drops = DropLog::default();
        // When each datagram queued and not yet done with arrived: the front is the oldest.
        let mut waiting: VecDeque<(u64, Instant)> = VecDeque::new();
        let mut queued: u64 = 0;
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
                    if let Some(line) = drops.report(Instant::now()) {
                        log::warn!("{line}");
                    }
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
            let now = Instant::now();
            let finished = self.stats.queue().finished();
            while waiting.front().is_some_and(|(seq, _)| *seq < finished) {
                waiting.pop_front();
            }
            let behind = waiting
                .front()
                .is_some_and(|(_, at)| now.saturating_duration_since(*at) > self.max_write_delay);
            if behind || !self.stats.queue().try_charge(entry_cost(n)) {
                self.stats.add_received(n);
                self.stats.add_dropped();
                if let Some(line) = drops.dropped(n, now) {
                    log::warn!("{line}");
                }
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
            waiting.push_back((queued, now));
            queued += 1;
            // Counted once queued, so that a flush requested after seeing the count also covers it.
            self.stats.add_received(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_logged_once_per_interval_with_their_count() {
        let start = Instant::now();
        let mut log = DropLog::default();
        let first = log.dropped(10, start);
        assert_eq!(
            first.as_deref(),
            Some(
                "ingest queue full or behind: 1 datagrams (10 bytes) dropped; further drops are reported every 10 s"
            )
        );
        let lines: Vec<String> = (1..13_000u32)
            .filter_map(|i| log.dropped(1, start + Duration::from_micros(u64::from(i))))
            .collect();
        assert_eq!(lines, Vec::<String>::new());
        assert_eq!(log.report(start + Duration::from_secs(9)), None);
        assert_eq!(
            log.report(start + DROP_LOG_INTERVAL).as_deref(),
            Some(
                "ingest queue full or behind: 12999 datagrams (12999 bytes) dropped in the last 10 s"
            )
        );
        assert_eq!(log.report(start + 3 * DROP_LOG_INTERVAL), None);
    }
}
