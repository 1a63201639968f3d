//! Starting and stopping the daemon: sockets, ingest threads, store writer and HTTP servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::error::Error;
use crate::ingest::receiver::{self, Receiver};
use crate::ingest::{Message, pipeline};
use crate::stats::{Stats, StatsSnapshot};
use crate::store::Store;
use crate::store::writer::Writer;
use crate::viewer;

/// How long a graceful HTTP shutdown may wait for open connections.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Batches waiting between the processing thread and the writer.
const WRITER_QUEUE: usize = 64;

/// The local X-Ray daemon. See [`Daemon::start`].
#[derive(Debug)]
pub struct Daemon;

impl Daemon {
    /// Binds the UDP socket and the API's TCP listener, opens the store, and starts the ingest threads and the
    /// HTTP server on the current Tokio runtime.
    ///
    /// # Errors
    /// [`Error::Bind`] when an address cannot be bound, [`Error::Store`]/[`Error::StoreFolder`] when the store
    /// cannot be opened, [`Error::Io`] when a thread cannot be spawned.
    pub async fn start(config: Config) -> Result<DaemonHandle, Error> {
        let store = Store::open(&config.store)?;
        let stats = Arc::new(Stats::default());
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));

        let socket = receiver::bind(config.udp_address, config.udp_receive_buffer)?;
        let udp_address = socket.local_addr().map_err(|source| Error::Io {
            context: "reading the UDP address",
            source,
        })?;
        let api_listener = bind_tcp(config.api_address).await?;
        let api_address = local_address(&api_listener)?;

        let writer = Writer::new(
            store.clone(),
            stats.clone(),
            queued_bytes.clone(),
            config.retention,
        )?;
        let (queue_tx, queue_rx) = mpsc::channel::<Message>();
        let (batch_tx, batch_rx) = mpsc::sync_channel(WRITER_QUEUE);
        let mut threads = Vec::new();
        threads.push((
            "writer",
            spawn("xray-writer", move || writer.run(batch_rx))?,
        ));
        threads.push((
            "processing",
            spawn("xray-process", move || pipeline::run(queue_rx, batch_tx))?,
        ));
        let receive_loop = Receiver {
            socket,
            queue: queue_tx.clone(),
            queued_bytes,
            max_queued_bytes: config.max_queued_bytes,
            stop: stop.clone(),
            stats: stats.clone(),
        };
        threads.push(("receiver", spawn("xray-udp", move || receive_loop.run())?));

        // Every HTTP listener is served the same way, and stops on the same signal. The sampling API joins here:
        // bind a TCP listener on `udp_address` (same port as the UDP socket) with `bind_tcp`, and push
        // `api::serve(listener, sampling_router, shutdown_rx.clone())` onto `servers`.
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = ApiState {
            store: store.clone(),
            stats: stats.clone(),
        };
        let servers = vec![api::serve(
            api_listener,
            api::router(state).merge(viewer::router()),
            shutdown_rx.clone(),
        )];
        log::info!(
            "listening for segments on udp://{udp_address}, viewer and API on http://{api_address}/"
        );
        Ok(DaemonHandle {
            udp_address,
            api_address,
            stats,
            store,
            stop,
            queue: queue_tx,
            threads,
            servers,
            shutdown: shutdown_tx,
        })
    }
}

async fn bind_tcp(address: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind { address, source })
}

fn local_address(listener: &tokio::net::TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Io {
        context: "reading the API address",
        source,
    })
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map_err(|source| Error::Io {
            context: "spawning a daemon thread",
            source,
        })
}

/// A running daemon: its addresses, counters and store, and the way to stop it.
///
/// Dropping the handle stops the daemon too, without waiting for the store to be flushed; call
/// [`DaemonHandle::shutdown`] for a clean stop.
#[derive(Debug)]
pub struct DaemonHandle {
    udp_address: SocketAddr,
    api_address: SocketAddr,
    stats: Arc<Stats>,
    store: Store,
    stop: Arc<AtomicBool>,
    queue: mpsc::Sender<Message>,
    threads: Vec<(&'static str, JoinHandle<()>)>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl DaemonHandle {
    /// The bound UDP address (with the real port when port 0 was asked for).
    pub fn udp_address(&self) -> SocketAddr {
        self.udp_address
    }

    /// The bound address of the JSON API.
    pub fn api_address(&self) -> SocketAddr {
        self.api_address
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The trace store, for in-process queries.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Waits until every datagram read from the socket so far is processed and committed to the store. Returns
    /// `false` if the daemon is stopping. Datagrams still in the kernel's socket buffer are not covered: compare
    /// [`StatsSnapshot::received`] with what was sent first.
    pub async fn flush(&self) -> bool {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        if self.queue.send(Message::Flush(done_tx)).is_err() {
            return false;
        }
        tokio::task::spawn_blocking(move || done_rx.recv().is_ok())
            .await
            .unwrap_or(false)
    }

    /// Stops receiving, writes everything already received to the store, stops the HTTP servers and waits for
    /// every thread. Returns the final counters.
    ///
    /// # Errors
    /// [`Error::ThreadPanicked`] if an ingest thread died.
    pub async fn shutdown(mut self) -> Result<StatsSnapshot, Error> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
        for server in std::mem::take(&mut self.servers) {
            let abort = server.abort_handle();
            if tokio::time::timeout(HTTP_SHUTDOWN_GRACE, server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        // The receive loop sees the stop flag within its poll interval and drops its queue sender; this one goes
        // when the handle does.
        let threads = std::mem::take(&mut self.threads);
        let (closed_tx, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.queue, closed_tx));
        let stats = self.stats.clone();
        tokio::task::spawn_blocking(move || {
            let mut result = Ok(());
            for (name, thread) in threads {
                if thread.join().is_err() {
                    result = Err(Error::ThreadPanicked(name));
                }
            }
            result.map(|()| stats.snapshot())
        })
        .await
        .unwrap_or(Err(Error::ThreadPanicked("shutdown")))
    }
}

impl Drop for DaemonHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
    }
}
