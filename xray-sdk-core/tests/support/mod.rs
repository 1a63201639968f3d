//! Test support: the test data, a fake daemon on loopback, and a checker for the X-Ray API model.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use xray_sdk_core::config::Endpoint;

/// `python-sdk-vectors.json`.
pub fn vectors() -> &'static Value {
    static V: OnceLock<Value> = OnceLock::new();
    V.get_or_init(|| {
        serde_json::from_str(&xray_sdk_testdata::read_text("python-sdk-vectors.json")).unwrap()
    })
}

/// The cases of a vector section, which must not be empty.
pub fn cases<'a>(section: &'a Value, key: &str) -> &'a [Value] {
    let list = section[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key:?} list"));
    assert!(!list.is_empty(), "{key:?} is empty");
    list
}

/// A rule as `GetSamplingRules` returns it.
#[allow(clippy::too_many_arguments)]
pub fn rule(
    name: &str,
    priority: i64,
    rate: f64,
    reservoir: i64,
    service: &str,
    service_type: &str,
    host: &str,
    method: &str,
    path: &str,
) -> Value {
    json!({
        "RuleName": name,
        "RuleARN": format!("arn:aws:xray:us-west-2:123456789012:sampling-rule/{name}"),
        "ResourceARN": "*",
        "Priority": priority,
        "FixedRate": rate,
        "ReservoirSize": reservoir,
        "ServiceName": service,
        "ServiceType": service_type,
        "Host": host,
        "HTTPMethod": method,
        "URLPath": path,
        "Version": 1,
        "Attributes": {}
    })
}

/// One request the fake daemon received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// How the fake daemon answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Serves the configured rules and targets.
    Normal,
    /// Reads the request and never answers (the connection stays open until [`FakeDaemon::release_hung`] or
    /// the daemon's drop).
    Hang,
    /// Sends these bytes and closes.
    Raw(Vec<u8>),
}

#[derive(Default)]
struct State {
    rule_pages: Vec<Vec<Value>>,
    targets: Value,
    requests: Vec<Recorded>,
    behaviour: Option<Behaviour>,
    hung: Vec<TcpStream>,
}

/// The daemon's sampling API on loopback: serves rules (paginated) and targets, and records requests.
pub struct FakeDaemon {
    pub endpoint: Endpoint,
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            targets: json!({"SamplingTargetDocuments": [], "UnprocessedStatistics": []}),
            ..State::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || serve(conn, &state));
                }
            })
        };
        FakeDaemon {
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port: addr.port(),
            },
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// One page of rules (`SamplingRule` bodies).
    pub fn set_rules(&self, rules: Vec<Value>) {
        self.set_rule_pages(vec![rules]);
    }

    /// Pages of rules, linked by `NextToken`s `p1`, `p2`, …
    pub fn set_rule_pages(&self, pages: Vec<Vec<Value>>) {
        self.state.lock().unwrap().rule_pages = pages;
    }

    /// The answer to `/SamplingTargets`.
    pub fn set_targets(&self, targets: Value) {
        self.state.lock().unwrap().targets = targets;
    }

    pub fn set_behaviour(&self, b: Behaviour) {
        self.state.lock().unwrap().behaviour = Some(b);
    }

    /// Closes the connections held by [`Behaviour::Hang`]: their clients see the answer end early.
    pub fn release_hung(&self) {
        self.state.lock().unwrap().hung.clear();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.state.lock().unwrap().requests)
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.state.lock().unwrap().hung.clear();
    }
}

pub fn read_request(conn: &mut TcpStream) -> Option<Recorded> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let path = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded {
        method,
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

fn serve(mut conn: TcpStream, state: &Mutex<State>) {
    let Some(req) = read_request(&mut conn) else {
        return;
    };
    let (behaviour, answer) = {
        let mut s = state.lock().unwrap();
        s.requests.push(req.clone());
        let behaviour = s.behaviour.clone().unwrap_or(Behaviour::Normal);
        let answer = match req.path.as_str() {
            "/GetSamplingRules" => {
                let token = serde_json::from_str::<Value>(&req.body)
                    .ok()
                    .and_then(|b| b["NextToken"].as_str().map(str::to_owned));
                let page = token
                    .and_then(|t| t.strip_prefix('p').and_then(|n| n.parse::<usize>().ok()))
                    .unwrap_or(0);
                let records: Vec<Value> = s
                    .rule_pages
                    .get(page)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| json!({"SamplingRule": r, "CreatedAt": 1.5e9, "ModifiedAt": 1.5e9}))
                    .collect();
                let mut body = json!({ "SamplingRuleRecords": records });
                if page + 1 < s.rule_pages.len() {
                    body["NextToken"] = json!(format!("p{}", page + 1));
                }
                Some((200, body))
            }
            "/SamplingTargets" => Some((200, s.targets.clone())),
            _ => Some((404, json!({"Message": "not found"}))),
        };
        (behaviour, answer)
    };
    match behaviour {
        Behaviour::Normal => {
            let (status, body) = answer.unwrap();
            let body = body.to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        Behaviour::Raw(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Behaviour::Hang => {
            state.lock().unwrap().hung.push(conn);
        }
    }
}

/// The X-Ray API model (botocore `service-2.json`).
pub fn api_model() -> &'static Value {
    static M: OnceLock<Value> = OnceLock::new();
    M.get_or_init(|| {
        serde_json::from_str(&xray_sdk_testdata::read_text(
            "schema/botocore-xray-2016-04-12-service-2.json",
        ))
        .unwrap()
    })
}

/// Checks that `value` is a valid `shape` of the API model: every member is defined, required members are
/// present, and types and length/range constraints hold. Returns the number of fields checked.
pub fn check_shape(value: &Value, shape: &str, at: &str) -> usize {
    let model = &api_model()["shapes"][shape];
    assert!(model.is_object(), "{at}: no shape {shape} in the model");
    let ty = model["type"].as_str().unwrap();
    match ty {
        "structure" => {
            let obj = value
                .as_object()
                .unwrap_or_else(|| panic!("{at}: {shape} must be an object: {value}"));
            for req in model["required"].as_array().into_iter().flatten() {
                let req = req.as_str().unwrap();
                assert!(obj.contains_key(req), "{at}: {shape} lacks required {req}");
            }
            let mut n = 0;
            for (k, v) in obj {
                let member = &model["members"][k];
                assert!(member.is_object(), "{at}: {k} is not a member of {shape}");
                n += 1 + check_shape(v, member["shape"].as_str().unwrap(), &format!("{at}.{k}"));
            }
            n
        }
        "list" => {
            let list = value
                .as_array()
                .unwrap_or_else(|| panic!("{at}: {shape} must be a list"));
            if let Some(max) = model["max"].as_u64() {
                assert!(list.len() as u64 <= max, "{at}: more than {max} items");
            }
            let item = model["member"]["shape"].as_str().unwrap();
            list.iter()
                .enumerate()
                .map(|(i, v)| check_shape(v, item, &format!("{at}[{i}]")))
                .sum()
        }
        "string" => {
            let s = value
                .as_str()
                .unwrap_or_else(|| panic!("{at}: {shape} must be a string: {value}"));
            let len = s.chars().count() as u64;
            if let Some(min) = model["min"].as_u64() {
                assert!(len >= min, "{at}: shorter than {min}");
            }
            if let Some(max) = model["max"].as_u64() {
                assert!(len <= max, "{at}: longer than {max}");
            }
            0
        }
        "integer" | "long" => {
            let i = value
                .as_i64()
                .unwrap_or_else(|| panic!("{at}: {shape} must be an integer: {value}"));
            if let Some(min) = model["min"].as_i64() {
                assert!(i >= min, "{at}: below {min}");
            }
            0
        }
        "double" => {
            assert!(value.is_number(), "{at}: {shape} must be a number");
            0
        }
        "timestamp" => {
            // rest-json: epoch seconds as a JSON number.
            assert!(value.is_number(), "{at}: a timestamp must be epoch seconds");
            0
        }
        "boolean" => {
            assert!(value.is_boolean(), "{at}: {shape} must be a boolean");
            0
        }
        "map" => {
            assert!(value.is_object(), "{at}: {shape} must be an object");
            0
        }
        other => panic!("{at}: unhandled model type {other}"),
    }
}

/// The input shape of an operation.
pub fn input_shape(operation: &str) -> String {
    api_model()["operations"][operation]["input"]["shape"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The request path of an operation.
pub fn request_uri(operation: &str) -> String {
    api_model()["operations"][operation]["http"]["requestUri"]
        .as_str()
        .unwrap()
        .to_owned()
}
