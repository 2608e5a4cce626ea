//! A SIGKILL while the server is still starting (creating, checking or migrating its
//! store) never leaves a store that the next start refuses or that lost acknowledged
//! data.

mod common;

use common::bin::{switchboard, write_config, Running, SECRETS};
use common::tolerant::Rng;
use common::*;
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Starts the binary and kills it `after` later, whatever it was doing.
async fn killed_while_starting(dir: &Path, config: &Path, after: Duration) {
    let config = config.to_str().unwrap();
    let mut child = switchboard(dir, &["--config", config, "--port", "0"], &SECRETS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the binary");
    // Time itself is awaited: the kill lands at some point of the start.
    tokio::time::sleep(after).await;
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0, "SIGKILL delivered");
    let waited = tokio::task::spawn_blocking(move || child.wait());
    within("the killed process to exit", waited)
        .await
        .unwrap()
        .unwrap();
}

/// Creates a workspace on a running server; returns the owner's token.
async fn create_on(server: &Running) -> String {
    let mut owner = Client::connect(&server.ws_url()).await;
    let created = owner.ok("create", json!({}), "created").await;
    str_of(&created["token"])
}

async fn still_there(server: &Running, token: &str) {
    let mut client = Client::connect(&server.ws_url()).await;
    let frame = client.request("re-attend", json!({ "token": token })).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}

/// The first start creates the store within a few milliseconds: kills spread over its
/// first 25 ms land before, during and after that, in every round a new store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_creating_a_new_store_leaves_it_usable() {
    let mut rng = Rng(0xC0FF_EE00_1234_5679);
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &dir.path().join("store"), "");
        let after = Duration::from_micros(rng.below(25_000));
        killed_while_starting(dir.path(), &config, after).await;
        eprintln!("round {round}: killed after {after:?}");

        let server = Running::start(dir.path(), &config).await;
        create_on(&server).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_while_opening_a_stored_store_loses_nothing() {
    let mut rng = Rng(0xBADC_0FFE_E0DD_F00D);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &dir.path().join("store"), "");
    let server = Running::start(dir.path(), &config).await;
    let token = create_on(&server).await;
    server.kill9().await;
    for round in 0..10 {
        let after = Duration::from_millis(rng.below(60));
        killed_while_starting(dir.path(), &config, after).await;
        eprintln!("round {round}: killed after {after:?}");
    }
    let server = Running::start(dir.path(), &config).await;
    still_there(&server, &token).await;
}
