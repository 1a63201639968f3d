//! The project's shared reference material — the Python SDK's vectors, the official schema, real segment
//! documents — for the tests and benchmarks of every crate of the workspace. Not part of the SDK's API.
//!
//! It lives in `shared/reference`, next to the repository (as CI lays it out). It is looked for at run time, from
//! the crate cargo runs the test or benchmark of (`$CARGO_MANIFEST_DIR`) or else the working directory, walking
//! up; `$XRAY_SDK_SHARED_DIR` names the `shared` folder explicitly. No path of the build machine is compiled in.

use std::path::PathBuf;

/// The `shared/reference` folder, or an error naming where it was looked for.
///
/// # Errors
/// When none of the places holds it.
pub fn dir() -> std::io::Result<PathBuf> {
    let explicit =
        std::env::var_os("XRAY_SDK_SHARED_DIR").map(|d| PathBuf::from(d).join("reference"));
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let above: Vec<PathBuf> = start
        .iter()
        .flat_map(|dir| dir.ancestors().map(|a| a.join("shared/reference")))
        .collect();
    let mut tried = Vec::new();
    for candidate in explicit.into_iter().chain(above) {
        if candidate.is_dir() {
            return Ok(candidate);
        }
        tried.push(candidate);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!(
            "shared/reference not found (tried {tried:?}); set XRAY_SDK_SHARED_DIR to the shared folder"
        ),
    ))
}

/// A file under `shared/reference`, as text.
///
/// # Errors
/// When the folder or the file cannot be found or read; the error names the path.
pub fn read(relative: &str) -> std::io::Result<String> {
    let path = dir()?.join(relative);
    std::fs::read_to_string(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
