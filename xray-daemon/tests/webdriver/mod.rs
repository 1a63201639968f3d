//! A minimal WebDriver client for the viewer's browser tests: headless Chromium driven by chromedriver, over a
//! small blocking HTTP/1.1 client on loopback.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key of an element reference in WebDriver's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The flags every Chromium of these tests runs with.
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
    "--hide-scrollbars",
    "--lang=en-US",
];

/// Where Chromium and chromedriver are, when both are installed.
pub struct Browser {
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The chromedriver binary.
    pub chromedriver: PathBuf,
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Finds Chromium and chromedriver. Without them: under `CI` the test fails with a clear message (CI installs
/// them with `.ci/install-deps`); elsewhere it prints a notice and the caller skips.
pub fn browser_or_skip(test: &str) -> Option<Browser> {
    // CHROMIUM and CHROMEDRIVER name the binaries exactly (no fallback when they are wrong).
    let from_env = |name: &str, defaults: &[&str]| match std::env::var_os(name) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => find_binary(defaults),
    };
    let chromium = from_env(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    );
    let chromedriver = from_env("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Browser {
            chromium,
            chromedriver,
        }),
        (chromium, chromedriver) => {
            let message = format!(
                "{test}: headless Chromium is needed (found chromium: {}, chromedriver: {}); install Debian's \
                 `chromium` and `chromium-driver` packages with `bash .ci/install-deps`",
                chromium.is_some(),
                chromedriver.is_some()
            );
            if std::env::var_os("CI").is_some() {
                panic!("{message}");
            }
            // Straight to the process's stderr: the test harness shows what `eprintln!` prints only for failures.
            let _ = writeln!(std::io::stderr(), "SKIPPED {message}");
            None
        }
    }
}

/// The port chromedriver started with `--port=0` chose, from the line it prints once listening; the rest of
/// its output goes on to `log`.
fn reported_port(driver: &mut Child, mut log: std::fs::File) -> u16 {
    const STARTED: &str = "ChromeDriver was started successfully on port ";
    let stdout = driver.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let mut tx = Some(tx);
        for line in lines.by_ref().map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
            if let Some(port) = line
                .strip_prefix(STARTED)
                .and_then(|rest| rest.trim_end_matches('.').parse::<u16>().ok())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!("chromedriver did not say which port it listens on ({e}); see its log")
        })
}

/// A response: status and JSON body.
fn http(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, Value)> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(90)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            if name == "content-length" {
                length = value.trim().parse::<usize>().ok();
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut bytes = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).map_err(std::io::Error::other)?;
            if size == 0 {
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            bytes.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(length) = length {
        bytes.resize(length, 0);
        reader.read_exact(&mut bytes)?;
    } else {
        reader.read_to_end(&mut bytes)?;
    }
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)?
    };
    Ok((status, value))
}

/// A chromedriver process and one browser session in it. Dropping it ends the session and the process.
pub struct Session {
    driver: Child,
    address: SocketAddr,
    id: String,
    profile: PathBuf,
}

impl Session {
    /// Starts chromedriver on a port it chooses itself and opens a headless Chromium with a fresh profile.
    pub fn start(browser: &Browser, profile: &Path) -> Session {
        let log = std::fs::File::create(profile.with_extension("chromedriver.log")).unwrap();
        let mut driver = Command::new(&browser.chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.chromedriver.display()));
        let port = reported_port(&mut driver, log);
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let mut session = Session {
            driver,
            address,
            id: String::new(),
            profile: profile.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, status)) = http(address, "GET", "/status", None)
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not start on {address}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser.chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let (status, body) = http(address, "POST", "/session", Some(&capabilities)).unwrap();
        assert_eq!(status, 200, "new session: {body}");
        session.id = body["value"]["sessionId"].as_str().unwrap().to_owned();
        session
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let path = format!("/session/{}{path}", self.id);
        let (status, response) = http(self.address, method, &path, body.as_ref())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if status == 200 {
            Ok(response["value"].clone())
        } else {
            Err(response["value"].clone())
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Loads a URL and waits for the page.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_owned()
    }

    /// Runs a script in the page and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// The elements matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| Element {
            session: self,
            id: e[ELEMENT].as_str().unwrap().to_owned(),
        })
        .collect()
    }

    /// Waits up to 15 s for an element matching a CSS selector.
    pub fn find(&self, css: &str) -> Element<'_> {
        self.wait_for(&format!("an element {css:?}"), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// Waits up to 15 s for `probe` to return something.
    pub fn wait_for<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if Instant::now() > deadline {
                let text = self.execute("return document.body.innerText", vec![]);
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the text of the elements matching `css` satisfies `check`, and returns it.
    pub fn wait_for_texts(
        &self,
        css: &str,
        what: &str,
        check: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let mut last = Vec::new();
        let found = self.wait_for_quiet(|| {
            let texts = self.texts(css);
            if check(&texts) {
                Some(texts)
            } else {
                last = texts;
                None
            }
        });
        found.unwrap_or_else(|| {
            panic!("timed out waiting for {what} in {css:?}; last seen: {last:#?}")
        })
    }

    fn wait_for_quiet<T>(&self, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(value) = probe() {
                return Some(value);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The visible text of every element matching `css` (read in one script, so that it is one moment's).
    pub fn texts(&self, css: &str) -> Vec<String> {
        let value = self.execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent)",
            vec![json!(css)],
        );
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call("GET", "/screenshot", None);
        base64_decode(encoded.as_str().unwrap())
    }

    /// The browser's console messages since the last call.
    pub fn console(&self) -> Vec<Value> {
        self.command("POST", "/se/log", Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = http(
                self.address,
                "DELETE",
                &format!("/session/{}", self.id),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// An element of the page.
pub struct Element<'a> {
    session: &'a Session,
    id: String,
}

impl Element<'_> {
    /// Clicks it.
    pub fn click(&self) {
        self.session.call(
            "POST",
            &format!("/element/{}/click", self.id),
            Some(json!({})),
        );
    }

    /// Types into it.
    pub fn send_keys(&self, text: &str) {
        self.session.call(
            "POST",
            &format!("/element/{}/value", self.id),
            Some(json!({"text": text})),
        );
    }

    /// Empties an input.
    pub fn clear(&self) {
        self.session.call(
            "POST",
            &format!("/element/{}/clear", self.id),
            Some(json!({})),
        );
    }

    /// Its rendered text.
    pub fn text(&self) -> String {
        self.session
            .call("GET", &format!("/element/{}/text", self.id), None)
            .as_str()
            .unwrap_or("")
            .to_owned()
    }
}

/// Standard base64, as WebDriver encodes screenshots.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn decodes_base64() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
}
