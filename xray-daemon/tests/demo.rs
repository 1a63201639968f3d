//! `xray demo --once`: the daemon, the three instrumented services, four checkouts, and the printed traces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn the_demo_traces_a_chain_of_services_into_the_daemon() {
    let output = Command::new(env!("CARGO_BIN_EXE_xray"))
        .args([
            "demo",
            "--once",
            "--udp-address",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
        ])
        .env_remove("AWS_XRAY_DAEMON_ADDRESS")
        .env_remove("AWS_XRAY_SDK_ENABLED")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for line in [
        "GET /checkout?item=tea -> 200",
        "GET /checkout?item=mug -> 200",
        "GET /checkout?item=unicorn -> 404",
        "GET /checkout?item=crash -> 500",
        "4 traces, 12 documents stored, 0 invalid.",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    // One tree per checkout: the root line names the trace, then the chain nests call by call.
    let trees: Vec<&str> = stdout
        .split("\n\n")
        .filter(|t| t.starts_with("1-"))
        .collect();
    assert_eq!(trees.len(), 4, "{stdout}");
    for tree in &trees {
        let lines: Vec<&str> = tree.lines().collect();
        let depth = |prefix: &str| {
            let line = lines
                .iter()
                .find(|l| l.trim_start().starts_with(prefix))
                .unwrap();
            line.len() - line.trim_start().len()
        };
        assert!(depth("storefront GET") < depth("inventory GET"), "{tree}");
        assert!(depth("inventory GET") < depth("pricing GET"), "{tree}");
        assert!(depth("pricing GET") < depth(":memory:"), "{tree}");
    }
    let status_of = |item: &str| {
        let tree = trees
            .iter()
            .find(|t| t.contains(&format!("item=\"{item}\"")))
            .unwrap();
        tree.lines()
            .next()
            .unwrap()
            .split("  ")
            .nth(3)
            .unwrap()
            .to_owned()
    };
    assert_eq!(status_of("tea"), "ok");
    assert_eq!(status_of("unicorn"), "error");
    assert_eq!(status_of("crash"), "fault");
}
