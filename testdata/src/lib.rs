//! The data files that the workspace's tests and benchmarks read, found from this crate's own folder.
//!
//! The files sit beside this crate's `Cargo.toml` (`testdata/` at the top of the repository); `SOURCES.md` there
//! says where each comes from and under which licence. Every crate of the workspace takes this crate as a
//! dev-dependency; nothing published depends on it.
//!
//! A file that is missing or unreadable panics with its path: a test never passes, and is never skipped, for want
//! of its data.
//!
//! ```
//! let schema = xray_sdk_testdata::read_text("schema/xray-segmentdocument-schema-v1.0.0.json");
//! assert!(schema.contains("\"version\": \"1.0.0\""));
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The folder that holds the data files.
pub fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The path of a data file, from its name relative to [`dir`] (for example `"fixtures/awsdocs/minimal-segment.json"`).
///
/// # Panics
/// When no such file or folder exists, naming the path.
pub fn path(relative: &str) -> PathBuf {
    let path = dir().join(relative);
    assert!(path.exists(), "test data missing: {}", path.display());
    path
}

/// A data file's bytes.
///
/// # Panics
/// When the file cannot be read, naming the path and the error.
pub fn read(relative: &str) -> Vec<u8> {
    let path = path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read test data {}: {e}", path.display()))
}

/// A data file's text.
///
/// # Panics
/// When the file cannot be read or is not UTF-8, naming the path.
pub fn read_text(relative: &str) -> String {
    String::from_utf8(read(relative))
        .unwrap_or_else(|e| panic!("test data {relative} is not UTF-8: {e}"))
}

/// Every file of a data folder, sorted by name: each file's name and bytes. Subfolders, names starting with `.`
/// and `README.md` are left out.
///
/// # Panics
/// When the folder does not exist or a file cannot be read, naming the path.
pub fn read_dir(relative: &str) -> Vec<(String, Vec<u8>)> {
    let folder = path(relative);
    let entries = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("cannot list test data {}: {e}", folder.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| {
            let entry =
                entry.unwrap_or_else(|e| panic!("cannot list test data {}: {e}", folder.display()));
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            (entry.file_name().to_string_lossy().into_owned(), is_file)
        })
        .filter(|(name, is_file)| *is_file && !name.starts_with('.') && name != "README.md")
        .map(|(name, _)| name)
        .map(|name| {
            let bytes = read(&format!("{relative}/{name}"));
            (name, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs `check` (a fuzz target's check) on every input kept in `fuzz-regressions/{target}`: a crash found once
/// is a test case forever.
///
/// # Panics
/// When the folder is empty or missing, or `check` panics on an input (naming the file).
pub fn replay_fuzz_regressions(target: &str, check: fn(&[u8])) {
    let inputs = read_dir(&format!("fuzz-regressions/{target}"));
    assert!(!inputs.is_empty(), "no inputs kept for {target}");
    for (name, data) in inputs {
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {name} fails");
    }
}

/// The official segment-document schema (`schema/xray-segmentdocument-schema-v1.0.0.json`, draft-04), compiled
/// once.
///
/// # Panics
/// When the file is missing or does not compile as a schema.
///
/// ```
/// let minimal = serde_json::json!({
///     "name": "web", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
///     "start_time": 1478293361.271, "end_time": 1478293361.449,
/// });
/// assert!(xray_sdk_testdata::schema().is_valid(&minimal));
/// ```
pub fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = read_text("schema/xray-segmentdocument-schema-v1.0.0.json");
        let schema: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("the segment-document schema is not JSON: {e}"));
        jsonschema::draft4::new(&schema)
            .unwrap_or_else(|e| panic!("the segment-document schema does not compile: {e}"))
    })
}

/// Checks `document` against the official schema.
///
/// # Panics
/// When it is not valid, listing every complaint and the document.
pub fn assert_schema_valid(document: &serde_json::Value) {
    let errors: Vec<String> = schema()
        .iter_errors(document)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "schema errors {errors:?} in {document}");
}

/// A local AWS API emulator (`moto_server`, from PyPI's `moto[server]`) on a free loopback port it picked itself,
/// stopped when dropped. For the tests of the AWS integrations and the daemon's forwarding.
///
/// # Panics
/// When `moto_server` cannot be started or does not say where it listens (install it with
/// `pip install 'moto[server]'`; `.ci/install-deps` does).
#[derive(Debug)]
pub struct Moto {
    child: std::process::Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
}

impl Moto {
    /// Starts one and waits until it listens.
    pub fn start() -> Moto {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server (pip install 'moto[server]'): {e}")
            });
        let Some(stderr) = child.stderr.take() else {
            panic!("moto_server's log is not readable")
        };
        let mut lines = BufReader::new(stderr).lines();
        let port = loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                other => panic!("moto_server stopped before saying where it listens: {other:?}"),
            };
            if let Some(rest) = line.split("Running on http://127.0.0.1:").nth(1) {
                break rest
                    .trim()
                    .parse::<u16>()
                    .unwrap_or_else(|e| panic!("moto_server's address {line:?}: {e}"));
            }
        };
        // Keep reading its log so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Moto { child, port }
    }

    /// Its endpoint URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_named_in_sources_is_present() {
        let sources = read_text("SOURCES.md");
        let named: Vec<&str> = sources
            .lines()
            .filter_map(|line| line.strip_prefix("- `"))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        assert!(
            named.len() >= 8,
            "SOURCES.md names too few files: {named:?}"
        );
        for name in named {
            assert!(
                dir().join(name).exists(),
                "SOURCES.md names {name}, which is missing"
            );
        }
    }

    #[test]
    fn read_dir_gives_the_files_of_a_folder_by_name() {
        let names: Vec<String> = read_dir("fuzz-regressions/trace_header")
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["lossy-and-odd-fields", "traceparent"]);
        // The README and the subfolders are left out.
        assert_eq!(read_dir("fuzz-regressions"), Vec::new());
    }

    #[test]
    #[should_panic(expected = "test data missing")]
    fn a_missing_file_fails_loudly() {
        let _ = read("no-such-file.json");
    }
}
