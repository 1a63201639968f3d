//! Starting and stopping the daemon: sockets, ingest threads, store writer and HTTP servers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::{self, ApiState};
use crate::config::Config;
use crate::error::Error;
use crate::forward::{self, ForwardQueue, ForwardStats};
use crate::ingest::receiver::{self, Receiver};
use crate::ingest::{Message, discard, pipeline};
use crate::sampling::{self, SamplingService};
use crate::stats::{Stats, StatsSnapshot};
use crate::store::Store;
use crate::store::writer::Writer;
use crate::viewer;

/// How long a graceful HTTP shutdown may wait for open connections.
const HTTP_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Batches waiting between the processing thread and the writer.
const WRITER_QUEUE: usize = 64;
/// How long a clean stop waits for forwarding to deliver what it holds.
const FORWARD_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// With UDP port 0, how many free UDP ports are tried until the same TCP port is free too.
const SAME_PORT_ATTEMPTS: usize = 20;

/// The local X-Ray daemon. See [`Daemon::start`].
#[derive(Debug)]
pub struct Daemon;

impl Daemon {
    /// Loads the sampling rules, binds the UDP socket, the sampling API's and the JSON API's TCP listeners,
    /// opens the store, and starts the ingest threads and the HTTP servers on the current Tokio runtime.
    ///
    /// # Errors
    /// [`Error::SamplingRules`] when the rules file cannot be read or is invalid (naming the file),
    /// [`Error::Bind`] when an address cannot be bound, [`Error::Store`]/[`Error::StoreFolder`] when the store
    /// cannot be opened, [`Error::Io`] when a thread cannot be spawned.
    pub async fn start(config: Config) -> Result<DaemonHandle, Error> {
        let sampling = Arc::new(SamplingService::from_file(
            config.sampling_rules.as_deref(),
        )?);
        let store = Store::open(&config.store)?;
        store.set_query_timeout(config.query_timeout);
        let forward_client = match &config.forward {
            Some(forward) => Some(forward::connect(forward).await.map_err(Error::Forward)?),
            None => None,
        };
        let mut stats = Stats::new(config.max_queued_bytes);
        let mut forward_queue = None;
        let mut forward_task = None;
        let proxy = forward_client.clone().map(sampling::XrayProxy::new);
        if let (Some(forward), Some(client)) = (&config.forward, forward_client) {
            let forward_stats = Arc::new(ForwardStats::default());
            stats = stats.with_forward(forward_stats.clone());
            let (queue, receiver) = ForwardQueue::new(forward_stats.clone(), forward.buffer_bytes);
            forward_queue = Some(queue);
            log::info!(
                "forwarding to AWS X-Ray in {} ({}); the sampling API passes requests on to it",
                client
                    .config()
                    .region()
                    .map_or_else(|| "no region".to_owned(), ToString::to_string),
                forward.endpoint.as_deref().unwrap_or("its public endpoint")
            );
            forward_task = Some(tokio::spawn(forward::run(
                receiver,
                client,
                forward_stats,
                forward.concurrency,
                forward.max_backoff,
            )));
        }
        let stats = Arc::new(stats);
        let stop = Arc::new(AtomicBool::new(false));

        let (socket, sampling_listener) = bind_udp_and_sampling(&config).await?;
        let udp_address = socket.local_addr().map_err(|source| Error::Io {
            context: "reading the UDP address",
            source,
        })?;
        let sampling_address = local_address(&sampling_listener)?;
        let api_listener = bind_tcp(config.api_address).await?;
        let api_address = local_address(&api_listener)?;

        let (queue_tx, queue_rx) = mpsc::channel::<Message>();
        let (batch_tx, batch_rx) = mpsc::sync_channel(WRITER_QUEUE);
        let mut threads = Vec::new();
        let writer = if config.keep_traces {
            let writer = Writer::new(store.clone(), stats.clone(), config.retention)?;
            spawn("xray-writer", move || writer.run(batch_rx))?
        } else {
            let stats = stats.clone();
            spawn("xray-writer", move || discard::run(batch_rx, stats))?
        };
        threads.push(("writer", writer));
        threads.push((
            "processing",
            spawn("xray-process", {
                let stats = stats.clone();
                move || pipeline::run(queue_rx, batch_tx, stats, forward_queue)
            })?,
        ));
        let receive_loop = Receiver {
            socket,
            queue: queue_tx.clone(),
            stop: stop.clone(),
            stats: stats.clone(),
            max_write_delay: config.max_write_delay,
        };
        threads.push(("receiver", spawn("xray-udp", move || receive_loop.run())?));

        // Every HTTP listener is served the same way, and stops on the same signal.
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let state = ApiState {
            store: store.clone(),
            stats: stats.clone(),
            sampling: sampling.clone(),
            sampling_answered_by_xray: proxy.is_some(),
        };
        let servers = vec![
            api::serve(
                api_listener,
                api::router(state).merge(viewer::router()).layer(
                    axum::middleware::from_fn_with_state(
                        Arc::new(config.allowed_hosts.clone()),
                        api::guard::check_host,
                    ),
                ),
                config.http_limits,
                shutdown_rx.clone(),
            ),
            api::serve(
                sampling_listener,
                sampling::router(sampling.clone(), proxy),
                config.http_limits,
                shutdown_rx.clone(),
            ),
        ];
        log::info!(
            "listening for segments on udp://{udp_address}, sampling API on http://{sampling_address}, viewer and \
             API on http://{api_address}/"
        );
        Ok(DaemonHandle {
            udp_address,
            sampling_address,
            api_address,
            sampling,
            stats,
            store,
            stop,
            queue: queue_tx,
            threads,
            servers,
            forward_task,
            shutdown: shutdown_tx,
        })
    }
}

/// Binds the UDP socket and the sampling API's listener: on `sampling_address` if given, else on the UDP
/// socket's address and port. With UDP port 0, another free port is tried when the TCP port is taken.
async fn bind_udp_and_sampling(
    config: &Config,
) -> Result<(std::net::UdpSocket, tokio::net::TcpListener), Error> {
    if let Some(address) = config.sampling_address {
        let socket = receiver::bind(config.udp_address, config.udp_receive_buffer)?;
        return Ok((socket, bind_tcp(address).await?));
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let socket = receiver::bind(config.udp_address, config.udp_receive_buffer)?;
        let address = socket.local_addr().map_err(|source| Error::Io {
            context: "reading the UDP address",
            source,
        })?;
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => return Ok((socket, listener)),
            Err(e)
                if config.udp_address.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempt < SAME_PORT_ATTEMPTS =>
            {
                log::debug!(
                    "TCP port {} is taken; trying another UDP port",
                    address.port()
                );
            }
            Err(source) => return Err(Error::Bind { address, source }),
        }
    }
}

async fn bind_tcp(address: SocketAddr) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind { address, source })
}

fn local_address(listener: &tokio::net::TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Io {
        context: "reading a listener's address",
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
    sampling_address: SocketAddr,
    api_address: SocketAddr,
    sampling: Arc<SamplingService>,
    stats: Arc<Stats>,
    store: Store,
    stop: Arc<AtomicBool>,
    queue: mpsc::Sender<Message>,
    threads: Vec<(&'static str, JoinHandle<()>)>,
    servers: Vec<tokio::task::JoinHandle<()>>,
    forward_task: Option<tokio::task::JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl DaemonHandle {
    /// The bound UDP address (with the real port when port 0 was asked for).
    pub fn udp_address(&self) -> SocketAddr {
        self.udp_address
    }

    /// The bound address of the sampling API (by default the UDP address, as with the X-Ray daemon): what an
    /// SDK's `AWS_XRAY_DAEMON_ADDRESS` points at.
    pub fn sampling_address(&self) -> SocketAddr {
        self.sampling_address
    }

    /// The sampling rules served, and what clients reported.
    pub fn sampling(&self) -> &SamplingService {
        &self.sampling
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
        let joined = tokio::task::spawn_blocking(move || {
            let mut result = Ok(());
            for (name, thread) in threads {
                if thread.join().is_err() {
                    result = Err(Error::ThreadPanicked(name));
                }
            }
            result
        })
        .await
        .unwrap_or(Err(Error::ThreadPanicked("shutdown")));
        // The processing thread is gone, and with it the forwarding queue's sender: forwarding delivers what it
        // holds, for a while.
        if let Some(task) = self.forward_task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(FORWARD_SHUTDOWN_GRACE, task)
                .await
                .is_err()
            {
                log::warn!("forwarding: stopped before delivering everything");
                abort.abort();
            }
        }
        joined.map(|()| stats.snapshot())
    }
}

impl Drop for DaemonHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.forward_task {
            task.abort();
        }
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.shutdown.send(true);
    }
}
