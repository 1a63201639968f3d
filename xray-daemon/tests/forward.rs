//! `--forward`: documents received over UDP reach AWS X-Ray's API (a local moto server), intact, through
//! restarts, throttling and server errors, with a bounded buffer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webdriver;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{send_documents, settle};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xray_daemon::forward::{ForwardConfig, ForwardSnapshot};
use xray_daemon::{Config, Daemon, DaemonHandle};
use xray_sdk_testdata::Moto;

/// A loopback proxy on a port it holds, in front of whichever moto is current (none: connections are closed
/// unanswered), answering scripted faults first.
#[derive(Clone)]
struct Proxy {
    url: String,
    upstream: Arc<AtomicU16>,
    faults: Arc<Mutex<Vec<(u16, &'static str)>>>,
    /// Every request passed on: its head and body.
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Proxy {
    async fn start(upstream: Option<u16>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy {
            url: format!("http://{}", listener.local_addr().unwrap()),
            upstream: Arc::new(AtomicU16::new(upstream.unwrap_or(0))),
            faults: Arc::default(),
            seen: Arc::default(),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(p.clone().serve(stream));
            }
        });
        proxy
    }

    fn point_at(&self, upstream: Option<u16>) {
        self.upstream.store(upstream.unwrap_or(0), Ordering::SeqCst);
    }

    async fn serve(self, mut client: TcpStream) {
        let Some((head, body)) = read_request(&mut client).await else {
            return;
        };
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            (!faults.is_empty()).then(|| faults.remove(0))
        };
        if let Some((status, code)) = fault {
            let body = format!(r#"{{"__type":"{code}","message":"injected"}}"#);
            let answer = format!(
                "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\nx-amzn-errortype: {code}\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            return;
        }
        let port = self.upstream.load(Ordering::SeqCst);
        if port == 0 {
            return; // moto is down: the connection closes unanswered
        }
        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
            return;
        };
        let head = String::from_utf8_lossy(&head).into_owned();
        self.seen
            .lock()
            .unwrap()
            .push((head.clone(), String::from_utf8_lossy(&body).into_owned()));
        let mut out = String::new();
        for line in head.split("\r\n") {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
        out.push_str("connection: close\r\n\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&body);
        if upstream.write_all(&bytes).await.is_err() {
            return;
        }
        let mut response = Vec::new();
        let _ = upstream.read_to_end(&mut response).await;
        let _ = client.write_all(&response).await;
    }
}

/// One HTTP/1.1 request: head (without the blank line) and body (by `content-length`).
async fn read_request(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..end].to_vec();
    let mut body = buf[end + 4..].to_vec();
    let length = String::from_utf8_lossy(&head)
        .to_ascii_lowercase()
        .split("\r\n")
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn forward_config(endpoint: &str) -> ForwardConfig {
    let mut config = ForwardConfig::new("us-east-1", "testing", "testing");
    config.endpoint = Some(endpoint.to_owned());
    config.max_backoff = Duration::from_millis(300);
    config.attempt_timeout = Duration::from_secs(5);
    config
}

async fn start(forward: ForwardConfig) -> DaemonHandle {
    Daemon::start(Config {
        forward: Some(forward),
        ..Config::ephemeral()
    })
    .await
    .unwrap()
}

fn forwarding(daemon: &DaemonHandle) -> ForwardSnapshot {
    daemon.stats().forward.expect("forwarding is on")
}

/// Waits until `done` holds for forwarding's counters.
async fn wait_for(daemon: &DaemonHandle, what: &str, done: impl Fn(&ForwardSnapshot) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = forwarding(daemon);
        if done(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {now:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `n` traces, each a segment and an independent subsegment (as a service and its SDK send them); trace ids
/// carry `seed` so that runs do not mix.
fn traces(seed: u32, n: u32) -> (Vec<String>, Vec<String>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut ids = Vec::new();
    let mut documents = Vec::new();
    for i in 0..n {
        let trace = format!("1-{now:08x}-{seed:08x}{i:016x}");
        let segment = format!("{seed:08x}{i:08x}");
        let sub = format!("{i:08x}{seed:08x}");
        let start = now as f64 + 0.125;
        documents.push(common::segment(
            &trace,
            &segment,
            "checkout",
            start,
            Some(start + 0.5),
            serde_json::json!({"http": {"request": {"method": "GET", "url": "http://shop/cart"},
                                        "response": {"status": 200}},
                               "annotations": {"user": "ada", "n": i}}),
        ));
        documents.push(common::subsegment(
            &trace,
            &sub,
            &segment,
            "inventory",
            start + 0.25,
            start + 0.375,
        ));
        ids.push(trace);
    }
    (ids, documents)
}

/// Every document of `traces` as X-Ray returns it from BatchGetTraces, parsed, sorted.
async fn stored_in_xray(endpoint: &str, traces: &[String]) -> Vec<Value> {
    let config = aws_sdk_xray::Config::builder()
        .behavior_version(aws_sdk_xray::config::BehaviorVersion::latest())
        .region(aws_sdk_xray::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_xray::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(endpoint)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let client = aws_sdk_xray::Client::from_conf(config);
    let mut found = Vec::new();
    for chunk in traces.chunks(5) {
        let out = client
            .batch_get_traces()
            .set_trace_ids(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        for trace in out.traces() {
            for segment in trace.segments() {
                found.push(serde_json::from_str(segment.document().unwrap()).unwrap());
            }
        }
    }
    sort(found)
}

fn sort(mut documents: Vec<Value>) -> Vec<Value> {
    documents.sort_by_key(|d| d["id"].as_str().unwrap_or_default().to_owned());
    documents
}

fn parsed(documents: &[String]) -> Vec<Value> {
    sort(
        documents
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_reach_xray_intact_and_stay_local() {
    let moto = Moto::start();
    let daemon = start(forward_config(&moto.url())).await;
    let (ids, documents) = traces(1, 130);
    send_documents(&daemon, &documents);
    let stats = settle(&daemon, documents.len() as u64).await;
    assert_eq!(
        stats.stored,
        documents.len() as u64,
        "the local store keeps working"
    );
    wait_for(&daemon, "all forwarded", |f| {
        f.sent == documents.len() as u64
    })
    .await;
    assert_eq!(
        forwarding(&daemon),
        ForwardSnapshot {
            sent: documents.len() as u64,
            ..ForwardSnapshot::default()
        }
    );
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
    let api: Value = common::api(&daemon, "/api/stats").await;
    assert_eq!(api["forward"]["sent"], documents.len());
    assert_eq!(api["forward"]["last_error"], Value::Null);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_delivers_what_is_held() {
    let moto = Moto::start();
    let daemon = start(forward_config(&moto.url())).await;
    let (ids, documents) = traces(9, 20);
    send_documents(&daemon, &documents);
    settle(&daemon, documents.len() as u64).await;
    // The batch is not full and its second is not over: the stop sends it.
    let stats = daemon.shutdown().await.unwrap();
    assert_eq!(stats.forward.unwrap().sent, documents.len() as u64);
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_restarted_mid_run_gets_what_was_buffered() {
    let first = Moto::start();
    let proxy = Proxy::start(Some(first.port)).await;
    let daemon = start(forward_config(&proxy.url)).await;
    let (_, before) = traces(2, 10);
    send_documents(&daemon, &before);
    wait_for(&daemon, "first run forwarded", |f| f.sent == 20).await;

    drop(first);
    proxy.point_at(None);
    let (ids, during) = traces(3, 40);
    send_documents(&daemon, &during);
    wait_for(&daemon, "failures seen", |f| {
        f.retried > 0 && f.last_error.is_some()
    })
    .await;
    assert_eq!(forwarding(&daemon).sent, 20);

    let second = Moto::start();
    proxy.point_at(Some(second.port));
    wait_for(&daemon, "buffered delivered", |f| f.sent == 100).await;
    let now = forwarding(&daemon);
    assert_eq!((now.dropped, now.buffered_bytes), (0, 0));
    assert!(now.last_error.unwrap().starts_with("cannot reach X-Ray"));
    assert_eq!(stored_in_xray(&second.url(), &ids).await, parsed(&during));
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_server_errors_are_retried() {
    let moto = Moto::start();
    let proxy = Proxy::start(Some(moto.port)).await;
    proxy.faults.lock().unwrap().extend([
        (400, "ThrottlingException"),
        (503, "ServiceUnavailable"),
        (500, "InternalFailure"),
    ]);
    let daemon = start(forward_config(&proxy.url)).await;
    let (ids, documents) = traces(4, 5);
    send_documents(&daemon, &documents);
    wait_for(&daemon, "delivered", |f| f.sent == 10).await;
    let now = forwarding(&daemon);
    assert_eq!((now.retried, now.dropped), (30, 0));
    assert_eq!(
        now.last_error.as_deref(),
        Some("X-Ray answered 500 InternalFailure: injected")
    );
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_batch_is_dropped_and_counted() {
    let moto = Moto::start();
    let proxy = Proxy::start(Some(moto.port)).await;
    proxy
        .faults
        .lock()
        .unwrap()
        .push((400, "InvalidRequestException"));
    let daemon = start(forward_config(&proxy.url)).await;
    let (_, documents) = traces(5, 3);
    send_documents(&daemon, &documents);
    wait_for(&daemon, "dropped", |f| f.dropped == 6).await;
    let now = forwarding(&daemon);
    assert_eq!((now.sent, now.retried, now.buffered_bytes), (0, 0, 0));
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_drops_and_counts_then_delivers_the_rest() {
    let proxy = Proxy::start(None).await;
    let mut config = forward_config(&proxy.url);
    config.buffer_bytes = 4096;
    let daemon = start(config).await;
    let (_, documents) = traces(6, 40);
    send_documents(&daemon, &documents);
    settle(&daemon, documents.len() as u64).await;
    let held = forwarding(&daemon);
    assert!(held.dropped > 0, "{held:?}");
    assert!(held.buffered_bytes <= 4096, "{held:?}");

    let moto = Moto::start();
    proxy.point_at(Some(moto.port));
    wait_for(&daemon, "the rest delivered", |f| {
        f.sent + f.dropped == documents.len() as u64
    })
    .await;
    let now = forwarding(&daemon);
    assert_eq!((now.dropped, now.buffered_bytes), (held.dropped, 0));
    daemon.shutdown().await.unwrap();
}

const XRAY: &str = env!("CARGO_BIN_EXE_xray");

/// `xray` with `args`, the environment's AWS settings removed (profiles included: an empty home), then `env` set.
fn xray(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(XRAY);
    command.args(args);
    for name in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_XRAY",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        command.env_remove(name);
    }
    let home = std::env::temp_dir().join("xray-forward-tests-empty-home");
    std::fs::create_dir_all(&home).unwrap();
    command
        .env("HOME", &home)
        .env_remove("AWS_CONFIG_FILE")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE");
    command.envs(env.iter().copied());
    command
}

/// `xray daemon` with `args`, as [`xray`].
fn xray_daemon(args: &[&str], env: &[(&str, &str)]) -> Command {
    xray(&[&["daemon"], args].concat(), env)
}

#[test]
fn missing_settings_and_unsupported_options_are_clear_errors() {
    let local = [
        "--memory",
        "-b",
        "127.0.0.1:0",
        "--api-address",
        "127.0.0.1:0",
        "-o",
    ];
    let config =
        std::env::temp_dir().join(format!("xray-forward-tests-{}.yaml", std::process::id()));
    std::fs::write(&config, "Region: us-east-1\nNoVerifySSL: true\n").unwrap();
    let config_arg = config.to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], String);
    let cases: [Case<'_>; 5] = [
        (
            &["--forward"],
            &[],
            "xray: forwarding needs a region: --region, AWS_REGION, the profile's region\n".to_owned(),
        ),
        (
            &["--forward", "-n", "us-east-1"],
            &[("AWS_SECRET_ACCESS_KEY", "x")],
            "xray: forwarding needs credentials: none in the environment (AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY), the profile files, a web identity token, the container's credentials\n"
                .to_owned(),
        ),
        (
            &["-a", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"],
            &[],
            "xray: --resource-arn arn:aws:ec2:us-east-1:123456789012:instance/i-1: not supported (it labels the \
             daemon's own telemetry records, which this daemon does not send); remove it\n"
                .to_owned(),
        ),
        (
            &["-p", "http://proxy:3128"],
            &[],
            "xray: --proxy-address http://proxy:3128: sending to X-Ray through a proxy is not supported\n"
                .to_owned(),
        ),
        (
            &["-c", config_arg],
            &[],
            format!(
                "xray: configuration file {config_arg}: NoVerifySSL: true is not supported: TLS certificates \
                 are always checked\n"
            ),
        ),
    ];
    for (args, env, expected) in cases {
        let out = xray_daemon(&[local.as_slice(), args].concat(), env)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), expected, "{args:?}");
    }
    let _ = std::fs::remove_file(config);
}

/// Starts `command` (an `xray` daemon) and reads the first line it prints: its UDP address and its API's URL.
/// Its standard error is kept, and shown if that line never comes.
fn launch(mut command: Command) -> (std::process::Child, String, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    // Drained all along, so that the daemon never blocks on a full pipe; read whole once the daemon is gone.
    let stderr = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = std::io::Read::read_to_end(&mut pipe, &mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if !line.contains("udp://") {
        let _ = child.wait();
        panic!(
            "xray printed {line:?}; its stderr: {}",
            stderr.join().unwrap()
        );
    }
    let after = |marker: &str, end: char| {
        let rest = line.split(marker).nth(1).unwrap();
        rest.split(end).next().unwrap().to_owned()
    };
    let udp = after("udp://", ',');
    let api = format!("http://{}", after("viewer on http://", '/'));
    (child, udp, api)
}

/// Sends `documents` to `udp` and waits until the daemon at `api` has forwarded `sent` documents.
async fn forwarded_by_the_binary(udp: &str, api: &str, documents: &[String], sent: u64) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in documents {
        socket
            .send_to(&common::datagram(d.as_bytes()), udp)
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let api = api.to_owned();
        let stats: Value = tokio::task::spawn_blocking(move || {
            xray_daemon::cli::http::get_json(&api, "/api/stats", Duration::from_secs(10)).unwrap()
        })
        .await
        .unwrap();
        if stats["forward"]["sent"] == sent {
            return;
        }
        assert!(Instant::now() < deadline, "{stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_forwards_with_the_official_daemons_flags() {
    let moto = Moto::start();
    let command = xray_daemon(
        &[
            "--forward",
            "-n",
            "us-east-1",
            "--bind",
            "127.0.0.1:0",
            "--bind-tcp",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
            "--memory",
            "-o",
            "--buffer-memory",
            "4",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", &moto.url()),
        ],
    );
    let (child, udp, api) = launch(command);
    let (ids, documents) = traces(7, 2);
    forwarded_by_the_binary(&udp, &api, &documents, 4).await;
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
    stop(child);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_command_line_and_configuration_file_forward() {
    let moto = Moto::start();
    let config = std::env::temp_dir().join(format!(
        "xray-forward-tests-cfg-{}.yaml",
        std::process::id()
    ));
    std::fs::write(
        &config,
        format!(
            "# as the X-Ray daemon reads it\nTotalBufferSizeMB: 0\nConcurrency: 2\nRegion: \"us-east-1\"\n\
             Endpoint: \"{}\"\nSocket:\n  UDPAddress: \"127.0.0.1:0\"\n  TCPAddress: \"127.0.0.1:0\"\n\
             Logging:\n  LogRotation: true\n  LogLevel: \"prod\"\n  LogPath: \"\"\nLocalMode: true\n\
             ResourceARN: \"\"\nRoleARN: \"\"\nNoVerifySSL: false\nProxyAddress: \"\"\nVersion: 2\n",
            moto.url()
        ),
    )
    .unwrap();
    // No subcommand: `xray -c FILE` runs as the X-Ray daemon does, forwarding.
    let command = xray(
        &[
            "-c",
            config.to_str().unwrap(),
            "--api-address",
            "127.0.0.1:0",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    );
    let (child, udp, api) = launch(command);
    let (ids, documents) = traces(8, 3);
    forwarded_by_the_binary(&udp, &api, &documents, 6).await;
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
    // As the X-Ray daemon, it keeps nothing.
    let stats: Value = tokio::task::spawn_blocking(move || {
        xray_daemon::cli::http::get_json(&api, "/api/stats", Duration::from_secs(10)).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        (stats["stored"].as_u64(), stats["not_stored"].as_u64()),
        (Some(0), Some(6)),
        "{stats}"
    );
    stop(child);
    let _ = std::fs::remove_file(config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_is_assumed_and_its_credentials_sign_the_calls() {
    let moto = Moto::start();
    let proxy = Proxy::start(Some(moto.port)).await;
    let role = "arn:aws:iam::123456789012:role/xray-writer";
    let command = xray_daemon(
        &[
            "--forward",
            "-n",
            "us-east-1",
            "-o",
            "-r",
            role,
            "-b",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
            "--memory",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDBASEACCOUNT"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_ENDPOINT_URL", &proxy.url),
        ],
    );
    let (child, udp, api) = launch(command);
    let (ids, documents) = traces(10, 2);
    forwarded_by_the_binary(&udp, &api, &documents, 4).await;
    assert_eq!(stored_in_xray(&moto.url(), &ids).await, parsed(&documents));
    stop(child);

    let seen = proxy.seen.lock().unwrap().clone();
    let credential = |head: &str| {
        head.split("Credential=")
            .nth(1)
            .and_then(|c| c.split('/').next())
            .unwrap_or_default()
            .to_owned()
    };
    let (assume_head, assume_body) = &seen[0];
    assert!(assume_body.contains("Action=AssumeRole"), "{assume_body}");
    assert!(
        assume_body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fxray-writer")
            && assume_body.contains("RoleSessionName=xray-daemon"),
        "{assume_body}"
    );
    assert_eq!(credential(assume_head), "AKIDBASEACCOUNT");
    let puts: Vec<String> = seen
        .iter()
        .filter(|(head, _)| head.starts_with("POST /TraceSegments"))
        .map(|(head, _)| credential(head))
        .collect();
    assert!(!puts.is_empty());
    for key in puts {
        assert!(key.starts_with("ASIA") && key != "AKIDBASEACCOUNT", "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_store_documents_are_forwarded_counted_and_not_kept() {
    let moto = Moto::start();
    let daemon = Daemon::start(Config {
        forward: Some(forward_config(&moto.url())),
        keep_traces: false,
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let (ids, mut documents) = traces(11, 4);
    let invalid =
        r#"{"trace_id": "1-00000000-000000000000000000000000", "id": "nothex"}"#.to_owned();
    documents.push(invalid);
    send_documents(&daemon, &documents);
    let stats = settle(&daemon, documents.len() as u64).await;
    assert_eq!(
        (
            stats.stored,
            stats.not_stored,
            stats.invalid_total,
            stats.dropped
        ),
        (0, 8, 1, 0)
    );
    wait_for(&daemon, "forwarded", |f| f.sent == 8).await;
    assert_eq!(
        stored_in_xray(&moto.url(), &ids).await,
        parsed(&documents[..8])
    );
    let traces: Value = common::api(&daemon, "/api/traces").await;
    assert_eq!(traces["traces"], serde_json::json!([]), "{traces}");
    daemon.shutdown().await.unwrap();
}

/// Documents forwarded per second, end to end from UDP into moto: `cargo test -p xray-daemon --test forward
/// -- --ignored --nocapture forward_throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement"]
async fn forward_throughput() {
    let moto = Moto::start();
    let daemon = start(forward_config(&moto.url())).await;
    let (_, documents) = traces(8, 5000);
    let began = Instant::now();
    for chunk in documents.chunks(1000) {
        send_documents(&daemon, chunk);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = settle(&daemon, documents.len() as u64).await;
    wait_for(&daemon, "all forwarded", |f| {
        f.sent + f.dropped == stats.stored
    })
    .await;
    let elapsed = began.elapsed();
    let now = forwarding(&daemon);
    println!(
        "forwarded {} documents ({} dropped, {} retried) in {:.2} s: {:.0} documents/s",
        now.sent,
        now.dropped,
        now.retried,
        elapsed.as_secs_f64(),
        now.sent as f64 / elapsed.as_secs_f64()
    );
    daemon.shutdown().await.unwrap();
}

/// The viewer's header shows forwarding's counters, and the last error on hover.
#[test]
fn the_viewer_header_shows_forwarding() {
    let Some(browser) = webdriver::browser_or_skip("the_viewer_header_shows_forwarding") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let moto = Moto::start();
    let proxy = runtime.block_on(Proxy::start(Some(moto.port)));
    let daemon = runtime.block_on(start(forward_config(&proxy.url)));
    let (_, documents) = traces(10, 1);
    send_documents(&daemon, &documents);
    runtime.block_on(wait_for(&daemon, "sent", |f| f.sent == 2));

    let profile = common::temp_dir("chromium-profile-forward");
    let session = webdriver::Session::start(&browser, &profile);
    session.goto(&format!("http://{}/", daemon.api_address()));
    let title = || session.execute("return document.getElementById('counters').title", vec![]);
    session.wait_for_texts("#counters", "forwarding's counters", |t| {
        t.len() == 1 && t[0].ends_with(" · to X-Ray: 2 sent, 0 retried, 0 dropped")
    });
    assert_eq!(title(), "");

    proxy
        .faults
        .lock()
        .unwrap()
        .push((503, "ServiceUnavailable"));
    let (_, more) = traces(11, 1);
    send_documents(&daemon, &more);
    runtime.block_on(wait_for(&daemon, "sent after a retry", |f| f.sent == 4));
    session.wait_for_texts("#counters", "forwarding's counters after a retry", |t| {
        t.len() == 1 && t[0].ends_with(" · to X-Ray: 4 sent, 2 retried, 0 dropped")
    });
    assert_eq!(
        title(),
        "last forwarding error: X-Ray answered 503 ServiceUnavailable: injected"
    );
    drop(session);
    runtime.block_on(daemon.shutdown()).unwrap();
}

/// With `--no-store`, the viewer's header says what was only forwarded.
#[test]
fn the_viewer_header_counts_what_was_not_stored() {
    let Some(browser) = webdriver::browser_or_skip("the_viewer_header_counts_what_was_not_stored")
    else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let moto = Moto::start();
    let daemon = runtime
        .block_on(Daemon::start(Config {
            forward: Some(forward_config(&moto.url())),
            keep_traces: false,
            ..Config::ephemeral()
        }))
        .unwrap();
    let (_, documents) = traces(12, 1);
    send_documents(&daemon, &documents);
    runtime.block_on(wait_for(&daemon, "sent", |f| f.sent == 2));

    let profile = common::temp_dir("chromium-profile-no-store");
    let session = webdriver::Session::start(&browser, &profile);
    session.goto(&format!("http://{}/", daemon.api_address()));
    session.wait_for_texts("#counters", "the counters without a store", |t| {
        t == ["0 traces · 2 received · 0 stored · 2 not stored · 0 invalid · to X-Ray: 2 sent, 0 retried, 0 dropped"]
    });
    drop(session);
    runtime.block_on(daemon.shutdown()).unwrap();
}
