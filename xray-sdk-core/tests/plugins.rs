//! The platform plugins against fake metadata services on loopback and temporary files: the exact `aws` blocks
//! and origins of emitted segments, precedence, the sampler's service type, and that a metadata service that
//! hangs, refuses or answers garbage delays nothing and changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::plugins::{Plugin, Plugins};
use xray_sdk_core::recorder::SDK_VERSION;
use xray_sdk_core::sampling::{
    AlwaysSample, CentralizedSampler, NeverSample, Sampler, SamplingDecision, SamplingRequest,
};
use xray_sdk_types::Document;

use support::{FakeDaemon, Recorded, read_request, rule};

/// How long a test waits for detection to finish; never reached unless something is broken.
const DETECTION: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------------------------
// A metadata service on loopback.

/// What the fake service does with one request.
enum Reply {
    /// A status and a body.
    Answer(u16, String),
    /// These bytes, then the connection closes.
    Raw(&'static [u8]),
    /// Nothing until the test opens the gate, then the reply.
    Hang(Box<Reply>),
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A gate that hanging replies wait on.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    wake: Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.wake.wait(open).unwrap();
        }
    }
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.wake.notify_all();
    }
}

struct MetadataServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    arrived: Arc<Condvar>,
    gate: Arc<Gate>,
    stop: Arc<AtomicBool>,
}

impl MetadataServer {
    fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Condvar::new());
        let gate = Arc::new(Gate::default());
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (requests, arrived, gate, stop) = (
                Arc::clone(&requests),
                Arc::clone(&arrived),
                Arc::clone(&gate),
                Arc::clone(&stop),
            );
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let (requests, arrived, gate, handler) = (
                        Arc::clone(&requests),
                        Arc::clone(&arrived),
                        Arc::clone(&gate),
                        Arc::clone(&handler),
                    );
                    std::thread::spawn(move || {
                        let Some(req) = read_request(&mut conn) else {
                            return;
                        };
                        let reply = handler(&req);
                        requests.lock().unwrap().push(req);
                        arrived.notify_all();
                        reply_with(&mut conn, reply, &gate);
                    });
                }
            });
        }
        MetadataServer {
            addr,
            requests,
            arrived,
            gate,
            stop,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived.
    fn wait_for_requests(&self, n: usize) {
        let mut requests = self.requests.lock().unwrap();
        while requests.len() < n {
            requests = self.arrived.wait(requests).unwrap();
        }
    }

    /// Lets hanging replies go.
    fn release(&self) {
        self.gate.open();
    }
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        self.release();
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

fn reply_with(conn: &mut TcpStream, reply: Reply, gate: &Gate) {
    match reply {
        Reply::Answer(status, body) => {
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
        Reply::Raw(bytes) => {
            let _ = conn.write_all(bytes);
        }
        Reply::Hang(then) => {
            gate.wait();
            reply_with(conn, *then, gate);
        }
    }
}

/// A loopback port that refuses connections: bound by a socket the test holds, never listening.
fn refusing_port() -> (socket2::Socket, String) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, format!("http://{addr}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures.

const TOKEN: &str = "AQAEAKz-token==";

fn identity_document() -> String {
    json!({
        "accountId": "123456789012",
        "architecture": "x86_64",
        "availabilityZone": "us-east-2a",
        "imageId": "ami-03cca83dd001d4666",
        "instanceId": "i-07a181803de94c666",
        "instanceType": "t3.xlarge",
        "pendingTime": "2026-01-01T00:00:00Z",
        "privateIp": "10.0.0.12",
        "region": "us-east-2",
        "version": "2017-09-30"
    })
    .to_string()
}

fn ec2_block() -> Value {
    json!({
        "instance_id": "i-07a181803de94c666",
        "availability_zone": "us-east-2a",
        "instance_size": "t3.xlarge",
        "ami_id": "ami-03cca83dd001d4666"
    })
}

/// IMDSv2: the document only with the token the `PUT` gave.
fn imds_v2(req: &Recorded) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("PUT", "/latest/api/token")
            if req.header("X-aws-ec2-metadata-token-ttl-seconds").is_some() =>
        {
            Reply::Answer(200, TOKEN.into())
        }
        ("GET", "/latest/dynamic/instance-identity/document") => {
            if req.header("X-aws-ec2-metadata-token") == Some(TOKEN) {
                Reply::Answer(200, identity_document())
            } else {
                Reply::Answer(401, String::new())
            }
        }
        _ => Reply::Answer(404, String::new()),
    }
}

/// IMDSv1 only: no token service.
fn imds_v1(req: &Recorded) -> Reply {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/latest/dynamic/instance-identity/document") => {
            Reply::Answer(200, identity_document())
        }
        _ => Reply::Answer(403, "Forbidden".into()),
    }
}

const TASK_ARN: &str =
    "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c";

/// Task metadata v4, as the ECS agent serves it (trimmed).
fn ecs_v4(req: &Recorded) -> Reply {
    match req.path.as_str() {
        "/v4/5fb8fcd5-container" => Reply::Answer(
            200,
            json!({
                "DockerId": "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
                "Name": "curl",
                "DockerName": "ecs-curltest-24-curl-cca48e8dcadd97805600",
                "Image": "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:latest",
                "Labels": {"com.amazonaws.ecs.cluster": "default"},
                "LogDriver": "awslogs",
                "LogOptions": {
                    "awslogs-create-group": "true",
                    "awslogs-group": "/ecs/metadata",
                    "awslogs-region": "us-west-2",
                    "awslogs-stream": "ecs/curl/8f03e41243824aea923aca126495f665"
                },
                "ContainerARN": "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9",
                "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}]
            })
            .to_string(),
        ),
        "/v4/5fb8fcd5-container/task" => Reply::Answer(
            200,
            json!({
                "Cluster": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
                "TaskARN": TASK_ARN,
                "Family": "curltest",
                "Revision": "26",
                "DesiredStatus": "RUNNING",
                "KnownStatus": "RUNNING",
                "LaunchType": "FARGATE",
                "AvailabilityZone": "us-west-2d",
                "Containers": []
            })
            .to_string(),
        ),
        _ => Reply::Answer(404, String::new()),
    }
}

fn ecs_block() -> Value {
    json!({
        "container": "ip-10-0-2-106.us-west-2.compute.internal",
        "container_id": "ea32192c8553fbff06c9340478a2ff089b2bb5646fb718b4ee206641c9086d66",
        "container_arn": "arn:aws:ecs:us-west-2:111122223333:container/0206b271-b33f-47ab-86c6-a0ba208a70a9",
        "cluster_arn": "arn:aws:ecs:us-west-2:111122223333:cluster/default",
        "task_arn": TASK_ARN,
        "task_family": "curltest",
        "launch_type": "FARGATE",
        "availability_zone": "us-west-2d"
    })
}

fn cloudwatch_logs() -> Value {
    json!([{
        "log_group": "/ecs/metadata",
        "arn": "arn:aws:logs:us-west-2:111122223333:log-group:/ecs/metadata"
    }])
}

const CONTAINER_ID: &str = "8a9b4a1f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7";

/// A folder of temporary files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xray-plugins-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A pod's files: the service account's token and the cgroup.
fn pod_files(dir: &TempDir) -> (PathBuf, PathBuf) {
    dir.file("serviceaccount/token", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    dir.file("serviceaccount/namespace", "default");
    let cgroup = dir.file(
        "cgroup",
        &format!(
            "12:pids:/kubepods/besteffort/pod9d1c5ee4-2f5b-4b5c-9f3e-0d6a1e7c4b21/{CONTAINER_ID}\n\
             11:memory:/kubepods/besteffort/pod9d1c5ee4-2f5b-4b5c-9f3e-0d6a1e7c4b21/{CONTAINER_ID}\n"
        ),
    );
    (dir.path("serviceaccount"), cgroup)
}

fn beanstalk_file(dir: &TempDir) -> PathBuf {
    dir.file(
        "environment.conf",
        r#"{"deployment_id":23,"version_label":"app-5a56-170925_170226","environment_name":"scorekeep"}"#,
    )
}

fn beanstalk_block() -> Value {
    json!({"environment_name": "scorekeep", "version_label": "app-5a56-170925_170226", "deployment_id": 23})
}

/// Plugins that look only in `dir` (nothing there unless a test puts it there) and never at the real IMDS.
fn isolated(plugins: Plugins, dir: &TempDir) -> Plugins {
    plugins
        .beanstalk_config(dir.path("environment.conf"))
        .service_account_dir(dir.path("serviceaccount"))
        .cgroup_file(dir.path("cgroup"))
        .hostname_file(dir.path("hostname"))
        .ec2_endpoint(dir_refusing_url())
}

/// A refusing endpoint shared by every test, so that no test can reach a real metadata service.
fn dir_refusing_url() -> String {
    static REFUSING: OnceLock<(socket2::Socket, String)> = OnceLock::new();
    REFUSING.get_or_init(refusing_port).1.clone()
}

fn recorder(
    emitter: &MemoryEmitter,
    plugins: Plugins,
    env: &[(&str, &str)],
    sampler: impl Sampler,
) -> Recorder {
    Recorder::builder()
        .env(MapEnv::new(env.iter().copied()))
        .service_name("svc")
        .sampler(sampler)
        .emitter(emitter.clone())
        .plugins(plugins)
        .build()
        .unwrap()
}

/// The document as JSON, after checking it against the schema and X-Ray's rules.
fn checked(doc: &Document) -> Value {
    let value = serde_json::to_value(doc).unwrap();
    xray_sdk_testdata::assert_schema_valid(&value);
    xray_sdk_types::validate::validate(&value).unwrap_or_else(|e| panic!("{e} in {value}"));
    value
}

/// Begins and ends one segment, and returns its document's `origin` and `aws` block.
fn one_segment(recorder: &Recorder, emitter: &MemoryEmitter) -> (Value, Value) {
    drop(recorder.begin_segment("svc"));
    let docs = emitter.take();
    assert_eq!(docs.len(), 1);
    let doc = checked(&docs[0]);
    (doc["origin"].clone(), doc["aws"].clone())
}

/// The `aws` block: the SDK's own block plus `blocks`.
fn aws_with(blocks: Value) -> Value {
    let mut aws = json!({"xray": {"sdk": "X-Ray for Rust", "sdk_version": SDK_VERSION}});
    for (k, v) in blocks.as_object().unwrap() {
        aws[k] = v.clone();
    }
    aws
}

// ---------------------------------------------------------------------------------------------------------------
// EC2.

#[test]
fn ec2_imds_v2_fills_the_ec2_block() {
    let imds = MetadataServer::start(imds_v2);
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let url = imds.url();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir),
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)],
        AlwaysSample,
    );
    let platform = rec.wait_for_platform(DETECTION).expect("EC2 found");
    assert_eq!(platform.plugin, Plugin::Ec2);
    assert_eq!(platform.origin, "AWS::EC2::Instance");

    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EC2::Instance");
    assert_eq!(aws, aws_with(json!({"ec2": ec2_block()})));

    let requests = imds.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("PUT", "/latest/api/token")
    );
    assert_eq!(
        requests[0].header("X-aws-ec2-metadata-token-ttl-seconds"),
        Some("60")
    );
    assert_eq!(requests[1].header("X-aws-ec2-metadata-token"), Some(TOKEN));
}

#[test]
fn ec2_agrees_with_the_python_sdk_vectors() {
    let vectors = &support::vectors()["plugins"];
    let identity = vectors["ec2_parse"]["instance_identity_document"].to_string();
    let imds = MetadataServer::start(move |req| match (req.method.as_str(), req.path.as_str()) {
        ("PUT", _) => Reply::Answer(200, TOKEN.into()),
        _ => Reply::Answer(200, identity.clone()),
    });
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let url = imds.url();
    let rec = recorder(
        &emitter,
        isolated(Plugins::only([Plugin::Ec2]), &dir),
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)],
        AlwaysSample,
    );
    rec.wait_for_platform(DETECTION).unwrap();
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, vectors["names"]["EC2Plugin"]["origin"]);
    // The Python SDK names the instance type `instance_type`; X-Ray's documented field is `instance_size`.
    let mut expected = vectors["ec2_parse"]["runtime_context"].clone();
    let size = expected
        .as_object_mut()
        .unwrap()
        .remove("instance_type")
        .unwrap();
    expected["instance_size"] = size;
    assert_eq!(aws["ec2"], expected);
    // The same two requests, with the same headers.
    let requests = imds.requests();
    for (sent, expected) in requests
        .iter()
        .zip(vectors["ec2_requests"].as_array().unwrap())
    {
        let url = expected["url"].as_str().unwrap();
        assert_eq!(sent.method, expected["method"]);
        assert_eq!(
            sent.path,
            url.strip_prefix("http://169.254.169.254").unwrap()
        );
        for (name, value) in expected["headers"].as_object().unwrap() {
            let value = value.as_str().unwrap();
            let value = if value.starts_with('<') { TOKEN } else { value };
            assert_eq!(sent.header(name), Some(value), "{name}");
        }
    }
    assert_eq!(requests.len(), 2);
}

#[test]
fn ec2_falls_back_to_imds_v1() {
    let imds = MetadataServer::start(imds_v1);
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    // The endpoint set on the builder is used when the environment names none.
    let plugins = isolated(Plugins::only([Plugin::Ec2]), &dir).ec2_endpoint(imds.url());
    let rec = recorder(&emitter, plugins, &[], AlwaysSample);
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Ec2
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EC2::Instance");
    assert_eq!(aws, aws_with(json!({"ec2": ec2_block()})));
    let requests = imds.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "GET");
    assert_eq!(requests[1].header("X-aws-ec2-metadata-token"), None);
}

#[test]
fn ec2_garbage_refusal_and_disabling_leave_segments_unchanged() {
    let dir = TempDir::new();
    let garbage = MetadataServer::start(|req| match req.method.as_str() {
        "PUT" => Reply::Raw(b"SSH-2.0-OpenSSH_9.6\r\n"),
        _ => Reply::Answer(200, "<html>not json</html>".into()),
    });
    let wrong_shape = MetadataServer::start(|req| match req.method.as_str() {
        "PUT" => Reply::Answer(200, TOKEN.into()),
        _ => Reply::Answer(200, r#"{"instanceId": 7}"#.into()),
    });
    let (_refusing, refused) = refusing_port();
    let good = MetadataServer::start(imds_v2);
    let good_url = good.url();
    let endpoint = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
    let (garbage_url, wrong_shape_url) = (garbage.url(), wrong_shape.url());
    let cases: [&[(&str, &str)]; 5] = [
        &[(endpoint, &garbage_url)],
        &[(endpoint, &wrong_shape_url)],
        &[(endpoint, &refused)],
        &[(endpoint, "https://169.254.169.254")],
        &[(endpoint, &good_url), ("AWS_EC2_METADATA_DISABLED", "true")],
    ];
    for env in cases {
        let emitter = MemoryEmitter::new();
        let rec = recorder(&emitter, isolated(Plugins::all(), &dir), env, AlwaysSample);
        assert_eq!(rec.wait_for_platform(DETECTION), None, "{env:?}");
        let (origin, aws) = one_segment(&rec, &emitter);
        assert_eq!(origin, Value::Null, "{env:?}");
        assert_eq!(aws, aws_with(json!({})), "{env:?}");
    }
    assert_eq!(garbage.requests().len(), 2, "the IMDSv1 fallback was tried");
    assert!(good.requests().is_empty(), "AWS_EC2_METADATA_DISABLED=true");
}

// ---------------------------------------------------------------------------------------------------------------
// ECS.

#[test]
fn ecs_v4_fills_the_ecs_block_and_the_log_group() {
    let ecs = MetadataServer::start(ecs_v4);
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let uri = format!("{}/v4/5fb8fcd5-container", ecs.url());
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir),
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &uri),
            (
                "ECS_CONTAINER_METADATA_URI",
                "http://192.0.2.1/v3/never-used",
            ),
            ("HOSTNAME", "ip-10-0-2-106.us-west-2.compute.internal"),
        ],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Ecs
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::ECS::Container");
    assert_eq!(
        aws,
        aws_with(json!({"ecs": ecs_block(), "cloudwatch_logs": cloudwatch_logs()}))
    );
    let paths: Vec<String> = ecs.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/v4/5fb8fcd5-container", "/v4/5fb8fcd5-container/task"]
    );
}

#[test]
fn ecs_v3_with_a_short_cluster_name_and_another_log_driver() {
    let ecs = MetadataServer::start(|req| {
        match req.path.as_str() {
        "/v3/abc" => Reply::Answer(
            200,
            json!({"DockerId": "43481a6ce4842eec8fe72fc28500c6b52edcc0917f105b83379f88cac1ff3946",
                   "Name": "nginx", "LogDriver": "json-file", "LogOptions": {"max-size": "10m"}})
            .to_string(),
        ),
        "/v3/abc/task" => Reply::Answer(
            200,
            json!({"Cluster": "default", "TaskARN": "arn:aws-cn:ecs:cn-north-1:111122223333:task/9781c248",
                   "Family": "nginx", "Revision": "5"})
            .to_string(),
        ),
        _ => Reply::Answer(404, String::new()),
    }
    });
    let dir = TempDir::new();
    dir.file("hostname", "43481a6ce484\n");
    let emitter = MemoryEmitter::new();
    let uri = format!("{}/v3/abc", ecs.url());
    let rec = recorder(
        &emitter,
        isolated(Plugins::only([Plugin::Ecs]), &dir),
        &[("ECS_CONTAINER_METADATA_URI", &uri)],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Ecs
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::ECS::Container");
    assert_eq!(
        aws,
        aws_with(json!({"ecs": {
            "container": "43481a6ce484",
            "container_id": "43481a6ce4842eec8fe72fc28500c6b52edcc0917f105b83379f88cac1ff3946",
            "cluster_arn": "arn:aws-cn:ecs:cn-north-1:111122223333:cluster/default",
            "task_arn": "arn:aws-cn:ecs:cn-north-1:111122223333:task/9781c248",
            "task_family": "nginx"
        }}))
    );
}

#[test]
fn ecs_metadata_that_is_garbage_leaves_the_host_name() {
    let ecs = MetadataServer::start(|req| match req.path.as_str() {
        "/v4/x" => Reply::Answer(200, "[1, 2".into()),
        _ => Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort"),
    });
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let uri = format!("{}/v4/x", ecs.url());
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir),
        &[
            ("ECS_CONTAINER_METADATA_URI_V4", &uri),
            ("HOSTNAME", "c0ffee"),
        ],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Ecs
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::ECS::Container");
    assert_eq!(aws, aws_with(json!({"ecs": {"container": "c0ffee"}})));
}

// ---------------------------------------------------------------------------------------------------------------
// EKS.

#[test]
fn eks_from_the_service_account_the_cgroup_and_the_cluster_name_variable() {
    let dir = TempDir::new();
    pod_files(&dir);
    let emitter = MemoryEmitter::new();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir).eks_cluster_name("from-the-builder"),
        &[
            ("HOSTNAME", "checkout-7d4b9c8f6-x2x9z"),
            ("AWS_XRAY_EKS_CLUSTER_NAME", "prod-cluster"),
        ],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Eks
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EKS::Pod");
    assert_eq!(
        aws,
        aws_with(json!({"eks": {
            "pod": "checkout-7d4b9c8f6-x2x9z",
            "cluster_name": "prod-cluster",
            "container_id": CONTAINER_ID
        }}))
    );
}

#[test]
fn eks_cluster_name_from_a_plain_http_kubernetes_api() {
    let api = MetadataServer::start(|req| match req.path.as_str() {
        "/api/v1/namespaces/amazon-cloudwatch/configmaps/cluster-info" => Reply::Answer(
            200,
            json!({"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": "cluster-info", "namespace": "amazon-cloudwatch"},
                   "data": {"cluster.name": "demo", "logs.region": "us-east-1"}})
            .to_string(),
        ),
        _ => Reply::Answer(404, String::new()),
    });
    let dir = TempDir::new();
    pod_files(&dir);
    dir.file("hostname", "web-0\n");
    let emitter = MemoryEmitter::new();
    let rec = recorder(
        &emitter,
        isolated(Plugins::only([Plugin::Eks]), &dir).kubernetes_api(api.url()),
        &[],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Eks
    );
    let (_, aws) = one_segment(&rec, &emitter);
    assert_eq!(
        aws["eks"],
        json!({"pod": "web-0", "cluster_name": "demo", "container_id": CONTAINER_ID})
    );
    let requests = api.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].header("Authorization"),
        None,
        "no token over plain HTTP"
    );
}

#[test]
fn eks_without_a_cluster_name_or_with_a_failing_api() {
    let dir = TempDir::new();
    pod_files(&dir);
    // A cgroup v2 file names no container.
    dir.file("cgroup", "0::/\n");
    let api = MetadataServer::start(|_| Reply::Answer(403, "{}".into()));
    let emitter = MemoryEmitter::new();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir).kubernetes_api(api.url()),
        &[("HOSTNAME", "web-1")],
        AlwaysSample,
    );
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Eks
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EKS::Pod");
    assert_eq!(aws, aws_with(json!({"eks": {"pod": "web-1"}})));
}

// ---------------------------------------------------------------------------------------------------------------
// Elastic Beanstalk.

#[test]
fn beanstalk_from_the_environment_file() {
    let dir = TempDir::new();
    beanstalk_file(&dir);
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, isolated(Plugins::all(), &dir), &[], AlwaysSample);
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::ElasticBeanstalk
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::ElasticBeanstalk::Environment");
    assert_eq!(
        aws,
        aws_with(json!({"elastic_beanstalk": beanstalk_block()}))
    );
}

#[test]
fn a_malformed_beanstalk_file_is_ignored() {
    for text in ["", "not json", "[1]", r#"{"deployment_id": "twenty"}"#] {
        let dir = TempDir::new();
        dir.file("environment.conf", text);
        let emitter = MemoryEmitter::new();
        let rec = recorder(&emitter, isolated(Plugins::all(), &dir), &[], AlwaysSample);
        assert_eq!(rec.wait_for_platform(DETECTION), None, "{text:?}");
        let (origin, aws) = one_segment(&rec, &emitter);
        assert_eq!(
            (origin, aws),
            (Value::Null, aws_with(json!({}))),
            "{text:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Precedence, the sampler's service type, and what wins over plugins.

#[test]
fn precedence_is_beanstalk_then_eks_then_ecs_then_ec2_and_every_block_is_kept() {
    let imds = MetadataServer::start(imds_v2);
    let ecs = MetadataServer::start(ecs_v4);
    let (imds_url, ecs_uri) = (imds.url(), format!("{}/v4/5fb8fcd5-container", ecs.url()));
    let env = [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_url.as_str()),
        ("ECS_CONTAINER_METADATA_URI_V4", ecs_uri.as_str()),
        ("HOSTNAME", "ip-10-0-2-106.us-west-2.compute.internal"),
        ("AWS_XRAY_EKS_CLUSTER_NAME", "prod"),
    ];
    let eks = json!({"pod": "ip-10-0-2-106.us-west-2.compute.internal", "cluster_name": "prod",
                     "container_id": CONTAINER_ID});
    let all_blocks = json!({"ec2": ec2_block(), "ecs": ecs_block(), "cloudwatch_logs": cloudwatch_logs(),
                            "eks": eks, "elastic_beanstalk": beanstalk_block()});
    let only = |keys: &[&str]| {
        let mut v = json!({});
        for k in keys {
            v[*k] = all_blocks[*k].clone();
        }
        v
    };
    let cases = [
        (
            Plugins::all(),
            "AWS::ElasticBeanstalk::Environment",
            only(&["ec2", "ecs", "cloudwatch_logs", "eks", "elastic_beanstalk"]),
        ),
        // The order given does not change precedence.
        (
            Plugins::only([Plugin::Ec2, Plugin::Ecs, Plugin::Eks]),
            "AWS::EKS::Pod",
            only(&["ec2", "ecs", "cloudwatch_logs", "eks"]),
        ),
        (
            Plugins::only([Plugin::Ec2, Plugin::Ecs]),
            "AWS::ECS::Container",
            only(&["ec2", "ecs", "cloudwatch_logs"]),
        ),
        (
            Plugins::only([Plugin::Ec2]),
            "AWS::EC2::Instance",
            only(&["ec2"]),
        ),
    ];
    for (plugins, expected_origin, blocks) in cases {
        let dir = TempDir::new();
        beanstalk_file(&dir);
        pod_files(&dir);
        let emitter = MemoryEmitter::new();
        let rec = recorder(&emitter, isolated(plugins, &dir), &env, AlwaysSample);
        assert_eq!(
            rec.wait_for_platform(DETECTION).unwrap().origin,
            expected_origin
        );
        let (origin, aws) = one_segment(&rec, &emitter);
        assert_eq!(origin, expected_origin);
        assert_eq!(aws, aws_with(blocks));
    }
}

/// Remembers the service type of every request, and samples.
#[derive(Debug, Clone, Default)]
struct ServiceTypes(Arc<Mutex<Vec<Option<String>>>>);

impl Sampler for ServiceTypes {
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        self.0
            .lock()
            .unwrap()
            .push(request.service_type.map(str::to_owned));
        SamplingDecision::SAMPLED
    }
}

#[test]
fn the_origin_is_the_samplers_service_type_and_the_builder_wins() {
    let dir = TempDir::new();
    beanstalk_file(&dir);
    let asked = ServiceTypes::default();
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, isolated(Plugins::all(), &dir), &[], asked.clone());
    rec.wait_for_platform(DETECTION).unwrap();
    drop(rec.begin_segment("svc"));
    assert_eq!(
        *asked.0.lock().unwrap(),
        [Some("AWS::ElasticBeanstalk::Environment".to_owned())]
    );

    // An origin and aws block set by hand win over what plugins find; the other blocks are filled in.
    let asked = ServiceTypes::default();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(asked.clone())
        .emitter(emitter.clone())
        .origin("AWS::EC2::Instance")
        .aws_resource(xray_sdk_types::document::Aws {
            elastic_beanstalk: Some(xray_sdk_types::document::ElasticBeanstalk {
                environment_name: Some("by-hand".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .plugins(isolated(Plugins::all(), &dir))
        .build()
        .unwrap();
    rec.wait_for_platform(DETECTION).unwrap();
    emitter.take();
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EC2::Instance");
    assert_eq!(
        aws,
        aws_with(json!({"elastic_beanstalk": {"environment_name": "by-hand"}}))
    );
    assert_eq!(
        *asked.0.lock().unwrap(),
        [Some("AWS::EC2::Instance".to_owned())]
    );
}

#[test]
fn centralized_rules_match_the_detected_service_type() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![
        rule(
            "on-ecs",
            1,
            1.0,
            0,
            "*",
            "AWS::ECS::Container",
            "*",
            "*",
            "*",
        ),
        rule(
            "on-ec2",
            2,
            1.0,
            0,
            "*",
            "AWS::EC2::Instance",
            "*",
            "*",
            "*",
        ),
        rule("Default", 10000, 0.0, 0, "*", "*", "*", "*", "*"),
    ]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .fallback(NeverSample)
        .manual_polling()
        .start()
        .unwrap();
    assert_eq!(sampler.refresh_rules().unwrap(), 3);
    let imds = MetadataServer::start(imds_v2);
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let url = imds.url();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir),
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)],
        sampler,
    );
    rec.wait_for_platform(DETECTION).unwrap();
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EC2::Instance");
    assert_eq!(aws["xray"]["sampling_rule_name"], "on-ec2");
}

// ---------------------------------------------------------------------------------------------------------------
// Costs: nothing waits on detection, and nothing runs where it should not.

#[test]
fn a_hanging_metadata_service_delays_neither_build_nor_the_first_segment() {
    // The service hangs until the test releases it, and requests have no deadline: if build() or a segment
    // waited on detection, this test would never end.
    let imds = MetadataServer::start(|req| Reply::Hang(Box::new(imds_v2(req))));
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let url = imds.url();
    let asked = ServiceTypes::default();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir).timeout(Duration::MAX),
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)],
        asked.clone(),
    );
    imds.wait_for_requests(1); // detection is under way, and hangs
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, Value::Null);
    assert_eq!(aws, aws_with(json!({})));
    assert_eq!(rec.platform(), None);
    assert_eq!(imds.requests().len(), 1, "still hanging on the token");

    // Once the service answers, later segments have the platform.
    imds.release();
    assert_eq!(
        rec.wait_for_platform(DETECTION).unwrap().plugin,
        Plugin::Ec2
    );
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!(origin, "AWS::EC2::Instance");
    assert_eq!(aws, aws_with(json!({"ec2": ec2_block()})));
    assert_eq!(
        *asked.0.lock().unwrap(),
        [None, Some("AWS::EC2::Instance".to_owned())]
    );
}

#[test]
fn a_metadata_service_that_hangs_past_the_timeout_is_ignored() {
    let imds = MetadataServer::start(|_| Reply::Hang(Box::new(Reply::Answer(200, TOKEN.into()))));
    let dir = TempDir::new();
    let emitter = MemoryEmitter::new();
    let url = imds.url();
    let rec = recorder(
        &emitter,
        isolated(Plugins::all(), &dir).timeout(Duration::from_millis(200)),
        &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url)],
        AlwaysSample,
    );
    assert_eq!(rec.wait_for_platform(DETECTION), None);
    // The token request timed out, then the IMDSv1 request did.
    imds.wait_for_requests(2);
    assert_eq!(imds.requests().len(), 2);
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!((origin, aws), (Value::Null, aws_with(json!({}))));
}

#[test]
fn in_lambda_and_when_disabled_plugins_do_nothing() {
    let imds = MetadataServer::start(imds_v2);
    let dir = TempDir::new();
    beanstalk_file(&dir);
    let url = imds.url();
    for env in [
        vec![("AWS_LAMBDA_FUNCTION_NAME", "orders")],
        vec![("LAMBDA_TASK_ROOT", "/var/task")],
        vec![("AWS_XRAY_SDK_ENABLED", "false")],
    ] {
        let mut env = env;
        env.push(("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url));
        let emitter = MemoryEmitter::new();
        let rec = recorder(&emitter, isolated(Plugins::all(), &dir), &env, AlwaysSample);
        assert_eq!(rec.wait_for_platform(DETECTION), None, "{env:?}");
    }
    assert!(imds.requests().is_empty());

    // Without plugins there is no detection either.
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    assert_eq!(rec.wait_for_platform(DETECTION), None);
    let (origin, aws) = one_segment(&rec, &emitter);
    assert_eq!((origin, aws), (Value::Null, aws_with(json!({}))));
}

#[test]
fn plugin_sets_and_names() {
    assert!(Plugins::all().contains(Plugin::ElasticBeanstalk));
    let some = Plugins::only([Plugin::Ecs]);
    assert!(some.contains(Plugin::Ecs) && !some.contains(Plugin::Ec2));
    let origins: Vec<&str> = Plugin::PRECEDENCE.iter().map(|p| p.origin()).collect();
    assert_eq!(
        origins,
        [
            "AWS::ElasticBeanstalk::Environment",
            "AWS::EKS::Pod",
            "AWS::ECS::Container",
            "AWS::EC2::Instance"
        ]
    );
}
