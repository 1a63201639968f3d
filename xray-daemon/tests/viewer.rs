//! The viewer end to end in headless Chromium, driven through chromedriver: real traces recorded with the SDK
//! and sent over UDP to an in-process daemon; the trace list (live updates, filters typed and selected in the
//! page), a trace's waterfall and entity details, the service map, the invalid documents; HTML in names and
//! values shown as text. A screenshot of each page is saved under `target/viewer-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`bash .ci/install-deps`). Without them the test fails when
//! `CI` is set, and is skipped with a notice otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod webdriver;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use common::sdk::{self, Recorded};
use serde_json::{Value, json};
use webdriver::{Session, browser_or_skip};
use xray_daemon::DaemonHandle;

const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/viewer-screenshots");

/// A name that X-Ray refuses (so the daemon keeps it aside as invalid), shown on the Invalid page.
const INVALID_NAME: &str = "<script>window.__xss=5</script>";

fn screenshot(session: &Session, name: &str) {
    let dir = PathBuf::from(SCREENSHOTS);
    std::fs::create_dir_all(&dir).unwrap();
    let png = session.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// Nothing from the traces became markup, and nothing had to be blocked by the Content-Security-Policy.
fn assert_no_injection(session: &Session, page: &str) {
    let found = session.execute(
        "return {
            img: document.querySelectorAll('img').length,
            iframe: document.querySelectorAll('iframe').length,
            inline_scripts: [...document.scripts].filter(s => !s.src).length,
            injected_bold: document.querySelectorAll('main b').length,
            xss: window.__xss === undefined ? null : window.__xss,
            csp_violations: document.documentElement.dataset.cspViolations || null,
        }",
        vec![],
    );
    assert_eq!(
        found,
        json!({"img": 0, "iframe": 0, "inline_scripts": 0, "injected_bold": 0, "xss": null, "csp_violations": null}),
        "{page}"
    );
}

fn set(items: &[String]) -> BTreeSet<&str> {
    items.iter().map(String::as_str).collect()
}

fn row_ids(session: &Session) -> Vec<String> {
    let ids = session.execute(
        "return [...document.querySelectorAll('#trace-rows tr.trace-row')].map(r => r.dataset.traceId)",
        vec![],
    );
    ids.as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn wait_for_rows(session: &Session, what: &str, expected: &[&String]) {
    let expected: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
    session.wait_for(what, || (row_ids(session) == expected).then_some(()));
}

/// Records one more trace, after the page has loaded, for the live update.
async fn record_late(daemon: &DaemonHandle) -> String {
    let recorder = xray_sdk_core::Recorder::builder()
        .env(xray_sdk_core::config::MapEnv::default())
        .daemon_address(daemon.udp_address().to_string())
        .build()
        .unwrap();
    let segment = recorder.segment("late").sampled(true).begin_detached();
    let id = segment.entity().trace_id().to_string();
    drop(segment);
    assert!(recorder.flush(Duration::from_secs(5)));
    id
}

#[test]
fn the_viewer_in_headless_chromium() {
    let Some(browser) = browser_or_skip("the_viewer_in_headless_chromium") else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let daemon = runtime.block_on(common::start());
    let recorded: Recorded = runtime.block_on(sdk::record(&daemon));
    let invalid = json!({"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "53995c3f42cd8ad8",
        "name": INVALID_NAME, "start_time": 1.0, "end_time": 2.0});
    common::send_documents(&daemon, &[invalid.to_string()]);
    runtime.block_on(async {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while daemon.stats().invalid_total == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the invalid document did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        daemon.flush().await;
    });

    let base = format!("http://{}", daemon.api_address());
    let profile = common::temp_dir("chromium-profile");
    let session = Session::start(&browser, &profile);

    // The trace list: newest first, each row with service, method, URL, status and duration.
    session.goto(&format!("{base}/"));
    wait_for_rows(
        &session,
        "the four traces, newest first",
        &[
            &recorded.html,
            &recorded.search,
            &recorded.checkout,
            &recorded.orders,
        ],
    );
    let services = session.texts("#trace-rows td.service");
    assert_eq!(services, [sdk::HTML_SERVICE, "web", "web", "web"]);
    let urls = session.texts("#trace-rows td.url");
    assert_eq!(
        urls,
        [
            sdk::HTML_URL,
            "http://shop.local/search?q=rust",
            "http://shop.local/checkout",
            "http://shop.local/orders/42"
        ]
    );
    let statuses = session.texts("#trace-rows td .badge");
    assert_eq!(statuses, ["fault", "throttle", "fault", "ok"]);
    let first = session.texts("#trace-rows tr.trace-row:last-child td");
    assert_eq!(first[2], "GET");
    assert!(first[4].contains("200"), "{first:?}");
    assert!(first[5].ends_with("ms"), "{first:?}");
    assert_no_injection(&session, "trace list");
    screenshot(&session, "1-traces");

    // Live: a trace recorded now appears without a reload.
    let late = runtime.block_on(record_late(&daemon));
    wait_for_rows(
        &session,
        "the late trace to appear live",
        &[
            &late,
            &recorded.html,
            &recorded.search,
            &recorded.checkout,
            &recorded.orders,
        ],
    );

    // Filters, through the page: select a status, then type a service.
    session.find("#filter-status option[value='fault']").click();
    wait_for_rows(
        &session,
        "only the faults",
        &[&recorded.html, &recorded.checkout],
    );
    session.find("#filter-service").send_keys("api");
    wait_for_rows(
        &session,
        "only the faults through api",
        &[&recorded.checkout],
    );
    assert!(
        session.url().ends_with("/?service=api&status=fault"),
        "{}",
        session.url()
    );
    screenshot(&session, "2-traces-filtered");
    session.find("#filter-service").clear();
    session.find("#filter-status option[value='']").click();
    session
        .find("#filter-annotation")
        .send_keys("note=".to_owned().as_str());
    session
        .find("#filter-annotation")
        .send_keys(sdk::HTML_ANNOTATION);
    wait_for_rows(&session, "the trace annotated with HTML", &[&recorded.html]);
    session.find("#filter-annotation").clear();
    session.find("#filter-min-duration").send_keys("100000");
    session.wait_for_texts("#trace-rows tr.empty", "no trace that long", |t| {
        t == ["No trace matches these filters."]
    });
    session.find("#filter-min-duration").clear();
    session.find("#filter-range option[value='5m']").click();
    wait_for_rows(
        &session,
        "the traces of the last 5 minutes",
        &[
            &late,
            &recorded.html,
            &recorded.search,
            &recorded.checkout,
            &recorded.orders,
        ],
    );

    // A trace: its waterfall, nested and to scale, and an entity's details.
    session
        .find(&format!(
            "tr[data-trace-id='{}'] td.service",
            recorded.checkout
        ))
        .click();
    let names = session.wait_for_texts(".wf-row .wf-label", "the waterfall", |t| t.len() == 7);
    assert_eq!(
        names,
        [
            "web",
            "api",
            "api",
            "orders@db.local",
            "DynamoDB",
            "charge card",
            "render"
        ]
    );
    let bars = session.execute(
        "return [...document.querySelectorAll('.wf-row[data-entity-id]')].map(r => {
            const bar = r.querySelector('.wf-bar').getBoundingClientRect();
            const name = r.querySelector('.wf-name');
            const track = r.querySelector('.wf-track').getBoundingClientRect();
            return {left: bar.left, right: bar.right, indent: parseFloat(getComputedStyle(name).paddingLeft),
                    track: track.width, status: r.dataset.status};
        })",
        vec![],
    );
    let bars = bars.as_array().unwrap();
    let (root_left, root_right) = (
        bars[0]["left"].as_f64().unwrap(),
        bars[0]["right"].as_f64().unwrap(),
    );
    let track = bars[0]["track"].as_f64().unwrap();
    assert!(
        root_right - root_left > 0.97 * track,
        "the root spans the track: {bars:?}"
    );
    for bar in &bars[1..] {
        assert!(bar["left"].as_f64().unwrap() >= root_left - 0.5, "{bar}");
        assert!(bar["right"].as_f64().unwrap() <= root_right + 0.5, "{bar}");
        assert!(
            bar["right"].as_f64().unwrap() - bar["left"].as_f64().unwrap() < root_right - root_left
        );
    }
    let indents: Vec<f64> = bars.iter().map(|b| b["indent"].as_f64().unwrap()).collect();
    assert!(
        indents[0] < indents[1] && indents[1] < indents[2] && indents[2] < indents[3],
        "{indents:?}"
    );
    let statuses: Vec<&str> = bars.iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(
        statuses,
        ["fault", "fault", "fault", "ok", "ok", "fault", "ok"]
    );
    let details = session.find("#details h2").text();
    assert!(
        details.starts_with("web"),
        "the root is selected first: {details}"
    );

    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(5)
        .unwrap()
        .click();
    let error = session.wait_for_texts("#details [data-section='error']", "the error", |t| {
        !t.is_empty()
    });
    assert!(
        error[0].contains("payments::DeclinedError: card declined by the bank"),
        "{error:?}"
    );
    assert!(
        error[0].contains("payments::charge src/payments.rs:88"),
        "{error:?}"
    );
    assert!(
        error[0].contains("api::checkout src/handlers.rs:21"),
        "{error:?}"
    );
    let raw = session.texts("#details [data-section='raw document'] pre");
    assert!(raw[0].contains("\"name\": \"charge card\""), "{raw:?}");
    screenshot(&session, "3-trace-error");

    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(3)
        .unwrap()
        .click();
    let sql = session.wait_for_texts("#details [data-section='sql']", "the SQL", |t| {
        !t.is_empty()
    });
    assert!(
        sql[0].contains("SELECT id, total FROM orders WHERE id = ?"),
        "{sql:?}"
    );
    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(4)
        .unwrap()
        .click();
    let aws = session.wait_for_texts("#details [data-section='aws']", "the AWS block", |t| {
        !t.is_empty()
    });
    assert!(
        aws[0].contains("GetItem") && aws[0].contains("orders"),
        "{aws:?}"
    );
    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(1)
        .unwrap()
        .click();
    let http = session.wait_for_texts("#details [data-section='http']", "the HTTP block", |t| {
        !t.is_empty()
    });
    assert!(
        http[0].contains("http://api.local/checkout") && http[0].contains("500"),
        "{http:?}"
    );
    screenshot(&session, "4-trace-http");

    // The trace whose names and values hold HTML: all shown as text.
    session.goto(&format!("{base}/traces/{}", recorded.html));
    let names = session.wait_for_texts(".wf-row .wf-label", "the HTML trace", |t| t.len() == 2);
    assert_eq!(names, [sdk::HTML_SERVICE, sdk::HTML_SUBSEGMENT]);
    let heading = session.texts("main h1");
    assert!(heading[0].starts_with(sdk::HTML_SERVICE), "{heading:?}");
    let annotations = session.texts("#details table.annotations td");
    assert!(
        annotations.contains(&sdk::HTML_ANNOTATION.to_owned()),
        "{annotations:?}"
    );
    let metadata = session.texts("#details [data-section='metadata'] pre");
    assert!(metadata[0].contains(sdk::HTML_METADATA), "{metadata:?}");
    let facts = session.texts(".trace-header dd");
    assert!(facts.iter().any(|f| f.contains(sdk::HTML_URL)), "{facts:?}");
    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(1)
        .unwrap()
        .click();
    let error = session.wait_for_texts("#details [data-section='error']", "the HTML error", |t| {
        !t.is_empty()
    });
    assert!(error[0].contains(sdk::HTML_ERROR), "{error:?}");
    assert!(error[0].contains("<b>Html</b>Error"), "{error:?}");
    assert!(
        error[0].contains("<img src=x onerror=alert(1)>"),
        "{error:?}"
    );
    assert_no_injection(&session, "HTML trace");
    screenshot(&session, "5-trace-html");

    // The service map: one node per service and resource, edges labelled with their numbers.
    session.goto(&format!("{base}/map"));
    let nodes =
        session.wait_for_texts("svg.map g.node text.node-name", "the map", |t| t.len() == 6);
    assert_eq!(
        set(&nodes),
        BTreeSet::from([
            sdk::HTML_SERVICE,
            "DynamoDB",
            "api",
            "late",
            "orders@db.local",
            "web"
        ])
    );
    let types = session.texts("svg.map g.node text.node-type");
    for t in [
        "AWS::EC2::Instance",
        "AWS::ECS::Container",
        "Database::SQL",
        "AWS::DynamoDB",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    let labels = session.texts("svg.map g.edge-label");
    assert_eq!(labels.len(), 3, "{labels:?}");
    assert!(
        labels
            .iter()
            .any(|l| l.starts_with("2 req · err 0% · fault 50%") && l.contains("p95")),
        "{labels:?}"
    );
    let edges = session.texts("#edge-table tbody tr");
    assert!(
        edges
            .iter()
            .any(|e| e.starts_with("web AWS::EC2::Instanceapi AWS::ECS::Container2")),
        "{edges:?}"
    );
    // Callers are left of what they call.
    let x = |name: &str| -> f64 {
        session
            .execute(
                "const n = [...document.querySelectorAll('svg.map g.node')].find(g => g.dataset.name === arguments[0]);
                 return n.getBoundingClientRect().left",
                vec![json!(name)],
            )
            .as_f64()
            .unwrap()
    };
    assert!(x("web") < x("api") && x("api") < x("DynamoDB"));
    assert_no_injection(&session, "map");
    screenshot(&session, "6-map");

    // A service's node leads to its traces.
    session.find("svg.map g.node[data-name='api'] rect").click();
    wait_for_rows(
        &session,
        "the traces through api",
        &[&recorded.checkout, &recorded.orders],
    );
    assert!(
        session.url().ends_with("/?service=api"),
        "{}",
        session.url()
    );

    // The invalid documents, with a name that X-Ray refuses, shown as text.
    session.goto(&format!("{base}/invalid"));
    let rows = session.wait_for_texts("#invalid-table tbody tr", "the invalid document", |t| {
        t.len() == 1
    });
    assert!(rows[0].contains("invalid_name"), "{rows:?}");
    assert!(rows[0].contains(INVALID_NAME), "{rows:?}");
    assert_no_injection(&session, "invalid");
    screenshot(&session, "7-invalid");

    // A trace too big for one answer (80 subsegments of 60 KB: two pages): every page is read, each
    // subsegment drawn once under its segment, and shown as received.
    let big = "1-5759e988-00000000000000000000beef";
    let mut docs = vec![common::segment(
        big,
        "00000000000000a1",
        "big",
        5000.0,
        Some(5010.0),
        json!({}),
    )];
    for n in 0..80u32 {
        docs.push(
            json!({"trace_id": big, "id": format!("{:016x}", 0xc000 + n), "parent_id": "00000000000000a1",
                "type": "subsegment", "name": format!("part-{n}"), "start_time": 5000.0 + f64::from(n) / 10.0,
                "end_time": 5000.05 + f64::from(n) / 10.0, "metadata": {"default": {"pad": "x".repeat(60 * 1024)}}})
            .to_string(),
        );
    }
    let received = daemon.stats().received;
    for (i, doc) in docs.iter().enumerate() {
        common::send_documents(&daemon, std::slice::from_ref(doc));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while daemon.stats().received < received + i as u64 + 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "document {i} never arrived"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert!(runtime.block_on(daemon.flush()));
    session.goto(&format!("{base}/traces/{big}"));
    let names = session.wait_for_texts(".wf-row .wf-label", "the big trace's waterfall", |t| {
        t.len() == 81
    });
    assert_eq!(names[0], "big");
    assert_eq!(names[80], "part-79");
    let indents = session.execute(
        "return [...document.querySelectorAll('.wf-row[data-entity-id] .wf-name')]
            .map(n => parseFloat(getComputedStyle(n).paddingLeft))",
        vec![],
    );
    let indents = indents.as_array().unwrap();
    assert!(
        indents[1..]
            .iter()
            .all(|i| i.as_f64() > indents[0].as_f64()),
        "{indents:?}"
    );
    session
        .find_all(".wf-row[data-entity-id]")
        .into_iter()
        .nth(80)
        .unwrap()
        .click();
    let raw = session.wait_for_texts(
        "#details [data-section='raw document']",
        "the raw document",
        |t| t.first().is_some_and(|t| t.contains("part-79")),
    );
    assert!(
        raw[0].contains("As received by the daemon."),
        "{}",
        &raw[0][..200]
    );

    let console: Vec<Value> = session.console();
    let refused: Vec<&Value> = console
        .iter()
        .filter(|m| {
            let text = m["message"].as_str().unwrap_or("");
            text.contains("Content Security Policy") || text.contains("Refused")
        })
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
    drop(session);
    runtime.block_on(daemon.shutdown()).unwrap();
}
