//! Durable storage from the outside: choosing a backend, stopping a server so that
//! another can start on its directory, and comparing a store's files byte for byte.

use super::{within, TestApp};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use switchboard::config::StorageBackend;
use switchboard::{Config, RunError};

/// The backend called `name` in config.toml (`"sled"`, `"memory"`).
pub fn backend(name: &str) -> StorageBackend {
    serde_json::from_value(json!(name))
        .unwrap_or_else(|e| panic!("storage.backend = {name:?} is not known: {e}"))
}

/// A configuration on the sled backend that stops quickly: sockets a test no longer
/// reads do not hold up shutdown for long.
pub fn durable(config: &mut Config) {
    config.storage.backend = backend("sled");
    config.server.shutdown_grace_secs = 1;
}

impl TestApp {
    /// Stops the server and waits for `run` to return `Ok`: its store is closed and
    /// another server may open it.
    pub async fn stop(&mut self) {
        self.trigger_shutdown();
        self.expect_run_ok().await;
    }

    /// Waits for `run` to return, which it must do by itself with an error (a server
    /// that starts serving instead times out here).
    pub async fn expect_run_err(&mut self) -> RunError {
        let handle = self.handle.take().expect("run's join handle");
        let result = within("run to refuse to start", handle)
            .await
            .expect("run task");
        match result {
            Err(error) => error,
            Ok(()) => panic!("run returned Ok where it should have refused to start"),
        }
    }
}

/// Every file under `dir` (recursively) with its bytes, keyed by path relative to `dir`.
pub fn files_of(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    collect(dir, dir, &mut files);
    files
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {dir:?}: {e}"));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .to_path_buf();
            files.insert(relative, bytes);
        }
    }
}

/// Asserts that `dir` holds exactly `before`: the same files with the same bytes.
pub fn assert_files_unchanged(dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let after = files_of(dir);
    let names = |files: &BTreeMap<PathBuf, Vec<u8>>| files.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&after), names(before), "the files of {dir:?}");
    for (name, bytes) in before {
        assert!(
            after[name] == *bytes,
            "{name:?} in {dir:?} was changed ({} bytes before, {} after)",
            bytes.len(),
            after[name].len()
        );
    }
}

/// Copies the directory tree `from` into `to` (created if absent).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {to:?}: {e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {from:?}: {e}")) {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {:?} to {target:?}: {e}", entry.path()));
        }
    }
}

/// The path of the layout marker in the store at `dir`.
pub fn marker_of(dir: &Path) -> PathBuf {
    dir.join("switchboard-store.toml")
}
