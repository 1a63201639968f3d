//! What the AWS tests share: a moto server of the test's own, a loopback proxy in front of it that records the
//! headers each call carries and can answer with a fault, clients built by hand, and checked documents.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use aws_types::region::Region;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::{AlwaysSample, NeverSample};
pub use xray_sdk_testdata::Moto;
use xray_sdk_types::Document;

/// What the proxy does with the next request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status, header `x-amzn-errortype` and JSON body, without asking moto.
    Answer(u16, &'static str),
    /// Never answer.
    Hang,
}

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP/1.1 proxy in front of moto: records every request, answers scripted faults first.
#[derive(Clone)]
pub struct Proxy {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    faults: Arc<Mutex<Vec<Fault>>>,
}

impl Proxy {
    pub async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = Proxy {
            url,
            received: Arc::default(),
            faults: Arc::default(),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(p.clone().serve(stream, upstream_port));
            }
        });
        proxy
    }

    /// Queues faults for the next requests, in order.
    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults.lock().unwrap().extend(faults);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }

    async fn serve(self, mut client: TcpStream, upstream_port: u16) {
        loop {
            let Some((head, body)) = read_message(&mut client).await else {
                return;
            };
            let text = String::from_utf8_lossy(&head).into_owned();
            let mut lines = text.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_owned();
            let mut parts = request_line.split(' ');
            let method = parts.next().unwrap_or_default().to_owned();
            let target = parts.next().unwrap_or_default().to_owned();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            self.received.lock().unwrap().push(Received {
                method: method.clone(),
                target: target.clone(),
                headers: headers.clone(),
            });
            let fault = {
                let mut faults = self.faults.lock().unwrap();
                (!faults.is_empty()).then(|| faults.remove(0))
            };
            match fault {
                Some(Fault::Hang) => {
                    // Hold the connection open and never answer.
                    let mut sink = Vec::new();
                    let _ = client.read_to_end(&mut sink).await;
                    return;
                }
                Some(Fault::Answer(status, code)) => {
                    let body = format!(r#"{{"__type":"{code}","message":"injected {code}"}}"#);
                    let answer = format!(
                        "HTTP/1.1 {status} Injected\r\ncontent-type: application/x-amz-json-1.0\r\nx-amzn-errortype: {code}\r\nx-amzn-requestid: injected-{status}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if client.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
                None => {
                    let mut upstream = TcpStream::connect(("127.0.0.1", upstream_port))
                        .await
                        .unwrap();
                    let mut out = format!("{request_line}\r\n");
                    for (n, v) in &headers {
                        if n != "connection" {
                            out.push_str(&format!("{n}: {v}\r\n"));
                        }
                    }
                    out.push_str("connection: close\r\n\r\n");
                    let mut bytes = out.into_bytes();
                    bytes.extend_from_slice(&body);
                    upstream.write_all(&bytes).await.unwrap();
                    let mut response = Vec::new();
                    upstream.read_to_end(&mut response).await.unwrap();
                    // Answer, then close: the response is delimited by the end of the connection if it has to be.
                    let split = find(&response, b"\r\n\r\n").map_or(response.len(), |i| i + 4);
                    let head = String::from_utf8_lossy(&response[..split]).into_owned();
                    let mut new_head = String::new();
                    for line in head.trim_end().split("\r\n") {
                        if !line.to_ascii_lowercase().starts_with("connection:") {
                            new_head.push_str(line);
                            new_head.push_str("\r\n");
                        }
                    }
                    new_head.push_str("connection: close\r\n\r\n");
                    let _ = client.write_all(new_head.as_bytes()).await;
                    let _ = client.write_all(&response[split..]).await;
                    return;
                }
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads one HTTP/1.1 request: its head and its body (by `content-length` or chunked, kept encoded).
async fn read_message(stream: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..head_end].to_vec();
    let mut body = buf[head_end + 4..].to_vec();
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .split("\r\n")
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = text.contains("transfer-encoding: chunked");
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => true,
        };
        if complete {
            break;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

/// The SDK configuration the tests share: the proxy as endpoint, fixed region and credentials, a plain-HTTP
/// client.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(
            aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
        )
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build()
}

/// A recorder named `svc` that samples everything (or nothing) and writes to memory.
pub fn recorder(sampled: bool) -> (Recorder, MemoryEmitter) {
    let emitter = MemoryEmitter::new();
    let builder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("svc")
        .emitter(emitter.clone());
    let builder = if sampled {
        builder.sampler(AlwaysSample)
    } else {
        builder.sampler(NeverSample)
    };
    (builder.build().unwrap(), emitter)
}

/// Checks a document against the schema and the rules the schema leaves out, and returns it as JSON.
pub fn checked(doc: &Document) -> Value {
    let value = serde_json::to_value(doc).unwrap();
    xray_sdk_testdata::assert_schema_valid(&value);
    xray_sdk_types::validate::validate(&value).unwrap_or_else(|e| panic!("{e} in {value}"));
    value
}

/// Every document sent so far, checked.
pub fn documents(emitter: &MemoryEmitter) -> Vec<Value> {
    emitter.documents().iter().map(checked).collect()
}

/// The subsegments of a segment document, with their varying fields (ids, times, request ids) replaced by
/// placeholders so that the rest can be compared exactly.
pub fn subsegments(segment: &Value) -> Vec<Value> {
    segment["subsegments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut s| {
            let o = s.as_object_mut().unwrap();
            for key in ["id", "start_time", "end_time"] {
                assert!(o.contains_key(key), "{key} missing in {s:?}");
            }
            o.remove("id");
            o.remove("start_time");
            o.remove("end_time");
            if let Some(aws) = o.get_mut("aws").and_then(Value::as_object_mut) {
                for key in ["request_id", "id_2"] {
                    if let Some(v) = aws.get_mut(key) {
                        assert!(v.as_str().is_some_and(|v| !v.is_empty()), "{key}: {v}");
                        *v = Value::String("<id>".into());
                    }
                }
            }
            if let Some(exceptions) = o
                .get_mut("cause")
                .and_then(|c| c.get_mut("exceptions"))
                .and_then(Value::as_array_mut)
            {
                for e in exceptions {
                    e.as_object_mut().unwrap().remove("id");
                }
            }
            s
        })
        .collect()
}

pub const LONG: Duration = Duration::from_secs(30);
