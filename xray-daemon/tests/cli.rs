//! The `xray` binary: `validate` exit codes and messages, `tail` output, `daemon` start and clean stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

const XRAY: &str = env!("CARGO_BIN_EXE_xray");

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(XRAY)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_valid_files_and_datagrams() {
    let path = fixture_path("awsdocs/minimal-segment.json");
    let out = run(&["validate", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout),
        format!("{}: 1 documents, 1 valid, 0 invalid\n", path.display())
    );

    let path = fixture_path("python-sdk-generated/ecs-segment-ddb-sqs-sqlite.datagram");
    let out = run(&["validate", "--all", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0));
    let name = path.display();
    assert_eq!(
        text(&out.stdout),
        format!("{name}:line 1: valid segment\n{name}: 1 documents, 1 valid, 0 invalid\n")
    );
}

#[test]
fn validate_reports_each_invalid_line_and_exits_1() {
    let good = segment(
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        "web",
        1.0,
        Some(2.0),
        json!({}),
    );
    let input = format!(
        "{good}\n{{\"format\":\"json\",\"version\":1}}\n{good}\n{{\"name\":\"x\"}}\n\n{}\nnot json\n",
        good.replace("\"web\"", "\"bad?name\"")
    );
    let out = run(&["validate", "-"], Some(input.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "<stdin>:line 4: invalid [missing_field] $.id: required field is missing\n\
         <stdin>:line 6: invalid [invalid_name] $.name: invalid name\n\
         <stdin>:line 7: invalid [not_json] $: not JSON: expected ident at line 1 column 2\n\
         <stdin>: 5 documents, 2 valid, 3 invalid\n"
    );
}

#[test]
fn validate_exit_codes_for_nothing_and_unreadable_input() {
    let out = run(&["validate"], Some(b"\n\n"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "xray validate: <stdin>: no documents found\n"
    );

    let out = run(&["validate", "/nonexistent/segments.json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "xray validate: cannot read /nonexistent/segments.json: No such file or directory (os error 2)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_trace_trees() {
    let daemon = start().await;
    let trace = "1-5759e988-bd862e3fe1be46a994272793";
    send_documents(
        &daemon,
        &[
            subsegment(
                trace,
                "00000000000000c1",
                "00000000000000a1",
                "DynamoDB",
                10.0625,
                10.125,
            ),
            segment(
                trace,
                "00000000000000a1",
                "web",
                10.0,
                Some(10.25),
                json!({
                "http": {"request": {"method": "GET", "url": "http://shop/"}, "response": {"status": 200}},
                "annotations": {"customer": "alice"}}),
            ),
        ],
    );
    settle(&daemon, 2).await;
    let api = format!("http://{}", daemon.api_address());
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                "tail",
                "--api",
                &api,
                "--last",
                "1",
                "--count",
                "1",
                "--interval-ms",
                "20",
            ],
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "1-5759e988-bd862e3fe1be46a994272793  web  250.0 ms  ok  GET http://shop/ → 200  customer=\"alice\"\n\
         \x20 web GET http://shop/ → 200  250.0 ms  at +0.0 ms\n\
         \x20   DynamoDB  62.5 ms  at +62.5 ms\n\n"
    );
    daemon.shutdown().await.unwrap();
}

#[test]
fn daemon_starts_stores_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("cli-daemon");
    let db = dir.join("traces.sqlite3");
    let mut child = Command::new(XRAY)
        .args([
            "daemon",
            "--udp-address",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(
        line.starts_with("xray daemon: segments on udp://127.0.0.1:"),
        "{line}"
    );
    let udp = line
        .split("udp://")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    let doc = segment(
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        "web",
        1.0,
        Some(2.0),
        json!({}),
    );
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(&datagram(doc.as_bytes()), &udp).unwrap();
    socket.send_to(b"junk", &udp).unwrap();
    // Stopped once both are read (the counters of the running daemon say so).
    let viewer = line
        .split("viewer on ")
        .nth(1)
        .unwrap()
        .split('/')
        .take(3)
        .collect::<Vec<_>>()
        .join("/");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats: serde_json::Value =
            xray_daemon::cli::http::get_json(&viewer, "/api/stats", Duration::from_secs(10))
                .unwrap();
        if stats["received"] == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not read both datagrams: {stats}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let log = text(&out.stderr);
    assert!(
        log.contains("stopped: 2 received, 1 stored, 1 invalid, 0 dropped"),
        "{log}"
    );

    let store = xray_daemon::Store::open(&xray_daemon::StoreLocation::File(db)).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.traces, counts.documents), (1, 1));
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Input that is not read is a failure, never a silent stop: an over-long line ends the run with exit 2 after
/// the verdicts on what came before it, and an invalid document after it is not reported as valid.
#[test]
fn validate_fails_on_input_it_did_not_read() {
    let good = segment(
        "1-5759e988-bd862e3fe1be46a994272793",
        "53995c3f42cd8ad8",
        "web",
        1.0,
        Some(2.0),
        json!({}),
    );
    let dir = temp_dir("validate-long");
    let path = dir.join("segments.json");
    let long = "x".repeat(300_000);
    std::fs::write(
        &path,
        format!("{{\"name\":\"x\"}}\n{long}\n{good}\nnot json\n"),
    )
    .unwrap();
    let out = run(&["validate", path.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}:line 1: invalid [missing_field] $.id: required field is missing\n",
            path.display()
        )
    );
    assert_eq!(
        text(&out.stderr),
        format!(
            "xray validate: cannot read {}: line 2 is longer than 262144 bytes: not read past it\n",
            path.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The HTTP limits given on the command line apply: with `--http-idle-timeout 1s` an idle connection to the API
/// is closed by the daemon; a bad limit is refused with exit code 2.
#[test]
fn daemon_takes_its_limits_from_the_command_line() {
    use std::io::Read;
    let mut child = Command::new(XRAY)
        .args([
            "daemon",
            "--memory",
            "--udp-address",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
            "--http-idle-timeout",
            "1s",
            "--http-header-timeout",
            "1s",
            "--http-max-connections",
            "4",
            "--max-write-delay",
            "250ms",
            "--query-timeout",
            "2s",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let api = line
        .split("viewer on http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // Connected, silent: closed by the daemon (the default would keep it a minute, past this read's timeout).
    let mut idle = std::net::TcpStream::connect(&api).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 64];
    let read = idle.read(&mut buf);
    assert!(
        matches!(read, Ok(0))
            || matches!(&read, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{read:?}"
    );
    let stats: serde_json::Value = xray_daemon::cli::http::get_json(
        &format!("http://{api}"),
        "/api/stats",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(stats["received"], 0);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));

    let out = run(&["daemon", "--memory", "--http-max-connections", "0"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value '0' for '--http-max-connections <N>'"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["daemon", "--memory", "--max-write-delay", "1w"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("invalid duration \"1w\": expected e.g. 500ms, 90s, 15m, 24h or 7d"),
        "{}",
        text(&out.stderr)
    );
}
