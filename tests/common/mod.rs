//! Helpers shared by the integration tests: the real `surge` binary, and
//! where the repository's files are.
#![allow(dead_code)]

use std::path::PathBuf;

/// The `surge` binary built for this test run.
pub fn surge() -> assert_cmd::Command {
    assert_cmd::cargo::cargo_bin_cmd!("surge")
}

/// A path inside the repository.
pub fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The shipped scenarios.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}
