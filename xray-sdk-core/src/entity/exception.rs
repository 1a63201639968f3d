//! Rust errors as X-Ray exceptions: the `source()` chain, type names, and backtrace frames.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error as StdError;
use std::hash::{Hash, Hasher};

use xray_sdk_types::EntityId;
use xray_sdk_types::document::{Exception, StackFrame};

/// The longest `source()` chain recorded; the rest is counted in `skipped`.
const MAX_CHAIN: usize = 8;

/// The last segment of a type path, with generic arguments shortened the same way:
/// `std::io::error::Error` → `Error`, `my::Wrapper<my::Inner>` → `Wrapper<Inner>`.
pub(crate) fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    for (i, c) in full.char_indices() {
        match c {
            ':' => segment_start = i + 1,
            '<' | '>' | ',' | ' ' | '(' | ')' | '[' | ']' | '&' | ';' => {
                out.push_str(&full[segment_start..i]);
                out.push(c);
                segment_start = i + 1;
            }
            _ => {}
        }
    }
    out.push_str(&full[segment_start..]);
    out
}

/// A best guess at the type of an error known only as `dyn Error`: the identifier its `Debug` form (`debug`)
/// starts with (`ParseIntError { kind: InvalidDigit }` → `ParseIntError`). `None` when it starts with something else.
fn debug_type_name(debug: &str) -> Option<String> {
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_uppercase())).then_some(name)
}

/// The crates of this SDK, whose frames a recorded backtrace leaves out. Each integration crate adds its name.
const OWN_CRATES: [&str; 11] = [
    "xray_sdk",
    "xray_sdk_core",
    "xray_sdk_types",
    "xray_sdk_macros",
    "xray_sdk_tower",
    "xray_sdk_reqwest",
    "xray_sdk_actix",
    "xray_sdk_aws",
    "xray_sdk_lambda",
    "xray_sdk_sql",
    "xray_sdk_tracing",
];

/// Crates of the standard library and the runtime, and the labels of frames that have no symbol.
const FOREIGN_PREFIXES: [&str; 7] = [
    "std::",
    "core::",
    "alloc::",
    "tokio::",
    "backtrace::",
    "__rust",
    "<unknown>",
];

/// The frames of a captured backtrace that belong to the application: no frames of the standard library, of
/// the runtime or of this SDK; at most `limit` of them, innermost first. Paths are relative (see
/// [`relative_path`]), so that no directory of the machine that built the program is recorded.
pub(crate) fn backtrace_frames(backtrace: &Backtrace, limit: usize) -> (Vec<StackFrame>, u32) {
    if limit == 0 || backtrace.status() != BacktraceStatus::Captured {
        return (Vec::new(), 0);
    }
    static CWD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .and_then(|p| p.to_str().map(str::to_owned))
    });
    frames_from_text(&backtrace.to_string(), limit, cwd.as_deref())
}

/// Whether a frame's label (`crate::module::function`, or `<crate::Type as other::Trait>::method`) is in one
/// of this SDK's crates, the standard library or the runtime. A crate is recognised by its exact name:
/// `xray_sdk_demo_app::handler` is the application's.
fn is_internal(label: &str) -> bool {
    let path = label.strip_prefix('<').unwrap_or(label);
    FOREIGN_PREFIXES
        .iter()
        .any(|p| label.starts_with(p) || path.starts_with(p))
        || path
            .split_once("::")
            .is_some_and(|(krate, _)| OWN_CRATES.contains(&krate))
}

/// A source path without the directories of the machine that built the program: relative to `cwd` when
/// under it; from the crate's folder for a dependency in cargo's registry (`hyper-1.7.0/src/…`) or a git
/// checkout; from `library/` for the standard library's sources; otherwise from the folder that holds the
/// last `src/` (`shop/src/checkout.rs`), else the file name alone. Relative paths are kept as they are.
fn relative_path(path: &str, cwd: Option<&str>) -> String {
    let unix;
    let path = if path.contains('\\') {
        unix = path.replace('\\', "/");
        unix.as_str()
    } else {
        path
    };
    let drive = matches!(path.as_bytes(), [_, b':', b'/', ..]);
    if !path.starts_with('/') && !drive {
        return path.to_owned();
    }
    if let Some(cwd) = cwd {
        let cwd = cwd.replace('\\', "/");
        if let Some(rest) = path
            .strip_prefix(cwd.trim_end_matches('/'))
            .and_then(|rest| rest.strip_prefix('/'))
        {
            return rest.to_owned();
        }
    }
    if let Some((_, rest)) = path.split_once("/registry/src/") {
        // After the registry's index folder.
        if let Some((_, krate)) = rest.split_once('/') {
            return krate.to_owned();
        }
    }
    for marker in ["/git/checkouts/", "/lib/rustlib/src/rust/"] {
        if let Some((_, rest)) = path.split_once(marker) {
            return rest.to_owned();
        }
    }
    if let Some(at) = path.rfind("/src/") {
        let folder_start = path[..at].rfind('/').map_or(0, |i| i + 1);
        return path[folder_start..].to_owned();
    }
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// The application frames of a backtrace's text form (`N: label` lines, each optionally followed by an
/// `at path:line:column` line), at most `limit`, and how many more there were. Paths are made relative to
/// `cwd`, or otherwise stripped of the build machine's folders.
fn frames_from_text(text: &str, limit: usize, cwd: Option<&str>) -> (Vec<StackFrame>, u32) {
    let mut frames: Vec<StackFrame> = Vec::new();
    let mut truncated = 0u32;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let line = line.trim();
        // "12: crate::module::function"
        let Some((index, label)) = line.split_once(": ") else {
            continue;
        };
        if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut path = None;
        let mut line_no = None;
        if let Some(next) = lines.peek()
            && let Some(location) = next.trim().strip_prefix("at ")
        {
            let mut parts = location.rsplitn(3, ':');
            let _column = parts.next();
            line_no = parts.next().and_then(|l| l.parse::<u32>().ok());
            path = parts.next().map(str::to_owned);
            lines.next();
        }
        let label = label.trim();
        let foreign_path = path.as_deref().is_some_and(|p| {
            p.starts_with("/rustc/") || p.starts_with("./") || p.contains("/sysdeps/")
        });
        if is_internal(label) || foreign_path {
            continue;
        }
        if frames.len() >= limit {
            truncated += 1;
            continue;
        }
        frames.push(StackFrame {
            path: path.map(|p| relative_path(&p, cwd)),
            line: line_no,
            label: Some(label.to_owned()),
        });
    }
    (frames, truncated)
}

/// What identifies one error of a chain together with every error beneath it: a hash of each one's `Debug`
/// and `Display` forms. The same error recorded again (on a subsegment, then on its parent as it propagates)
/// has the same fingerprint; another error with the same message, or the same message wrapping another
/// cause, has another.
pub(crate) type Fingerprint = u64;

/// An error and its `source()` chain as exceptions, outermost first, each naming the next as its `cause`.
#[derive(Debug)]
pub(crate) struct ErrorChain {
    exceptions: Vec<Exception>,
    /// `fingerprints[i]` identifies `exceptions[i]` with everything beneath it.
    fingerprints: Vec<Fingerprint>,
}

/// What an entity records for an error chain, given the exceptions its subsegments recorded.
#[derive(Debug, PartialEq)]
pub(crate) enum Linked {
    /// A subsegment recorded this very error: the entity names that exception as its cause.
    Same(EntityId),
    /// The exceptions to add. When a subsegment recorded an error of the chain, that error and the ones
    /// beneath it are left out, and the last exception kept names the subsegment's as its `cause`.
    New(Vec<Exception>),
}

impl ErrorChain {
    /// The fingerprint of the whole chain (none for an empty chain, which never happens).
    pub(crate) fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprints.first().copied()
    }

    /// Links the chain to what the entity's subsegments recorded: `(exception id, fingerprint)` pairs.
    pub(crate) fn link(mut self, recorded: &[(EntityId, Fingerprint)]) -> Linked {
        let found = self.fingerprints.iter().enumerate().find_map(|(i, f)| {
            let (id, _) = recorded.iter().rev().find(|(_, r)| r == f)?;
            Some((i, *id))
        });
        match found {
            Some((0, id)) => Linked::Same(id),
            Some((i, id)) => {
                self.exceptions.truncate(i);
                if let Some(last) = self.exceptions.last_mut() {
                    last.cause = Some(id);
                }
                Linked::New(self.exceptions)
            }
            None => Linked::New(self.exceptions),
        }
    }
}

/// The exceptions for an error and its `source()` chain, outermost first, each naming the next as its
/// `cause`. `type_name` is the static type of the outermost error, when known.
pub(crate) fn exceptions_for(
    err: &(dyn StdError + 'static),
    type_name: Option<&str>,
    remote: bool,
    stack: (Vec<StackFrame>, u32),
) -> ErrorChain {
    let mut chain: Vec<&(dyn StdError + 'static)> = Vec::new();
    let mut skipped = 0u32;
    let mut next = Some(err);
    while let Some(e) = next {
        if chain.len() < MAX_CHAIN {
            chain.push(e);
        } else {
            skipped += 1;
        }
        next = e.source();
    }
    let ids: Vec<EntityId> = chain.iter().map(|_| EntityId::new()).collect();
    let (frames, truncated) = stack;
    let mut frames = Some(frames);
    let mut debug_forms = Vec::with_capacity(chain.len());
    let exceptions = chain
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let message = e.to_string();
            let debug = format!("{e:?}");
            let type_name = if i == 0 {
                type_name
                    .map(short_type_name)
                    .or_else(|| debug_type_name(&debug))
            } else {
                debug_type_name(&debug)
            };
            debug_forms.push((debug, message.clone()));
            Exception {
                id: ids[i],
                message: (!message.is_empty()).then_some(message),
                type_name,
                remote: Some(remote),
                truncated: (i == 0 && truncated > 0).then_some(truncated),
                skipped: (i + 1 == chain.len() && skipped > 0).then_some(skipped),
                cause: ids.get(i + 1).copied(),
                stack: if i == 0 {
                    frames.take().unwrap_or_default()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    // From the innermost error out, each fingerprint covering the one beneath it.
    let mut fingerprints = vec![0; debug_forms.len()];
    let mut beneath: Fingerprint = u64::from(skipped);
    for (i, (debug, message)) in debug_forms.iter().enumerate().rev() {
        let mut hasher = std::hash::DefaultHasher::new();
        (debug, message, beneath).hash(&mut hasher);
        beneath = hasher.finish();
        fingerprints[i] = beneath;
    }
    ErrorChain {
        exceptions,
        fingerprints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crate_of_the_workspace_is_known_as_our_own() {
        // The workspace's members, read from its manifest: a crate added later without being listed here
        // would have its frames recorded in every backtrace.
        let manifest = include_str!("../../../Cargo.toml");
        let members: Vec<String> = manifest
            .lines()
            .map(str::trim)
            .filter_map(|line| line.strip_prefix('"')?.strip_suffix("\","))
            .filter(|name| {
                name.starts_with("xray-sdk") && !name.contains('/') && *name != "xray-sdk-bench"
            })
            .map(|name| name.replace('-', "_"))
            .collect();
        assert!(members.len() >= 7, "{members:?}");
        for member in &members {
            assert!(
                OWN_CRATES.contains(&member.as_str()),
                "{member} is missing from OWN_CRATES"
            );
        }
    }

    #[test]
    fn type_names() {
        assert_eq!(short_type_name("std::io::error::Error"), "Error");
        assert_eq!(
            short_type_name("a::Wrapper<b::Inner, c::D>"),
            "Wrapper<Inner, D>"
        );
        let e = "x".parse::<u32>().unwrap_err();
        assert_eq!(
            debug_type_name(&format!("{e:?}")).as_deref(),
            Some("ParseIntError")
        );
    }

    #[test]
    fn chain_links_by_id() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("loading config failed")
            }
        }
        impl StdError for Outer {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(&self.0)
            }
        }
        let err = Outer(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let ex = exceptions_for(
            &err,
            Some(std::any::type_name::<Outer>()),
            false,
            (Vec::new(), 0),
        )
        .exceptions;
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].message.as_deref(), Some("loading config failed"));
        assert_eq!(ex[0].type_name.as_deref(), Some("Outer"));
        assert_eq!(ex[0].cause, Some(ex[1].id));
        assert_eq!(ex[1].message.as_deref(), Some("no such file"));
        assert_eq!(ex[1].type_name.as_deref(), Some("Custom"));
        assert_eq!(ex[1].cause, None);
    }

    const TEXT: &str = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/59807616e1fa/library/std/src/backtrace.rs:312:13
   1: xray_sdk_core::entity::Entity::add_error
             at /src/xray-sdk-core/src/entity/mod.rs:290:9
   2: shop::checkout::load_cart
             at /app/src/checkout.rs:41:17
   3: shop::checkout::handle
             at /app/src/checkout.rs:12:5
   4: shop::main
             at /app/src/main.rs:7:5
   5: core::ops::function::FnOnce::call_once
             at /rustc/59807616e1fa/library/core/src/ops/function.rs:250:5
   6: start_thread
             at ./nptl/pthread_create.c:442:8
   7: <unknown>
";

    /// Frames of a user's crate whose name starts like ours, of this SDK's crates, and of a dependency.
    const OURS_AND_THEIRS: &str = "   0: xray_sdk_core::entity::Entity::add_error
             at /home/ci/xray-sdk/xray-sdk-core/src/entity/mod.rs:290:9
   1: <xray_sdk_tower::service::XrayService<S> as tower_service::Service<R>>::call
             at /home/ci/xray-sdk/xray-sdk-tower/src/service.rs:80:9
   2: xray_sdk_demo_app::handler
             at /home/ci/build/demo/src/handler.rs:10:5
   3: xray_sdk::capture_helper
             at /home/ci/xray-sdk/xray-sdk/src/lib.rs:1:1
   4: hyper::proto::h1::dispatch::Dispatcher::poll_catch
             at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hyper-1.7.0/src/proto/h1/dispatch.rs:120:3
   5: xray_sdk_demo_app::main
             at /srv/app/src/main.rs:4:2
";

    #[test]
    fn only_this_sdk_s_own_frames_are_left_out_and_paths_are_relative() {
        let (frames, _) = frames_from_text(OURS_AND_THEIRS, 10, Some("/srv/app"));
        let frame = |label: &str, path: &str, line| StackFrame {
            path: Some(path.to_owned()),
            line: Some(line),
            label: Some(label.to_owned()),
        };
        assert_eq!(
            frames,
            [
                frame("xray_sdk_demo_app::handler", "demo/src/handler.rs", 10),
                frame(
                    "hyper::proto::h1::dispatch::Dispatcher::poll_catch",
                    "hyper-1.7.0/src/proto/h1/dispatch.rs",
                    120
                ),
                frame("xray_sdk_demo_app::main", "src/main.rs", 4),
            ]
        );
    }

    #[test]
    fn no_build_machine_folder_is_left_in_a_path() {
        let cases = [
            ("/srv/app/src/main.rs", "src/main.rs"),
            ("/srv/app/crates/api/src/lib.rs", "crates/api/src/lib.rs"),
            ("/srv/application/src/lib.rs", "application/src/lib.rs"),
            (
                "/home/u/.cargo/git/checkouts/repo-1a2b/3c4d/src/x.rs",
                "repo-1a2b/3c4d/src/x.rs",
            ),
            (
                "/root/.rustup/toolchains/1.89-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/core/src/ops/function.rs",
                "library/core/src/ops/function.rs",
            ),
            ("/tmp/build/generated.rs", "generated.rs"),
            ("C:\\work\\shop\\src\\main.rs", "shop/src/main.rs"),
            ("src/main.rs", "src/main.rs"),
            ("", ""),
        ];
        for (path, relative) in cases {
            assert_eq!(relative_path(path, Some("/srv/app/")), relative, "{path}");
        }
        assert_eq!(
            relative_path("/srv/app/src/main.rs", None),
            "app/src/main.rs"
        );
    }

    #[test]
    fn backtrace_frames_keep_application_code_and_respect_the_limit() {
        let (frames, truncated) = frames_from_text(TEXT, 10, None);
        assert_eq!(truncated, 0);
        let labels: Vec<&str> = frames.iter().filter_map(|f| f.label.as_deref()).collect();
        assert_eq!(
            labels,
            [
                "shop::checkout::load_cart",
                "shop::checkout::handle",
                "shop::main"
            ]
        );
        assert_eq!(frames[0].path.as_deref(), Some("app/src/checkout.rs"));
        assert_eq!(frames[0].line, Some(41));
        let (two, truncated) = frames_from_text(TEXT, 2, None);
        assert_eq!(two.len(), 2);
        assert_eq!(two[0], frames[0]);
        assert_eq!(truncated, 1);
        assert_eq!(
            frames_from_text("garbage\n: nothing\n", 5, None),
            (Vec::new(), 0)
        );
        assert_eq!(
            backtrace_frames(&Backtrace::force_capture(), 0),
            (Vec::new(), 0)
        );
        assert_eq!(
            backtrace_frames(&Backtrace::disabled(), 10),
            (Vec::new(), 0)
        );
    }
}
