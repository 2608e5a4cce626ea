//! The `switchboard` binary as an operator runs it: signals, and the refusals that keep a
//! misconfigured server from starting.

mod common;

use common::bin::{failure, switchboard};
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{ChildStdout, Stdio};

/// Reads the log until the server says where it listens.
fn listening_addr(stdout: ChildStdout) -> String {
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let at = line.find("listening on http://")?;
            let rest = &line[at + "listening on http://".len()..];
            Some(rest.split_whitespace().next()?.to_string())
        })
        .expect("the server logs its address");
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_with_1001_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = switchboard(dir.path(), &["--port", "0"], &[("MAGICK_TOKEN", SECRET)])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let addr = within(
        "the server to log its address",
        tokio::task::spawn_blocking(move || listening_addr(stdout)),
    )
    .await
    .unwrap();
    let mut client = Client::connect(&format!("ws://{addr}/ws")).await;
    client.ok("create", serde_json::json!({}), "created").await;

    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0, "SIGTERM delivered");
    client.expect_close(1001).await;
    let status = within(
        "the process to exit",
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn an_unknown_config_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("typo.toml"),
        "[limits]\nmax_mesage_bytes = 10\n",
    )
    .unwrap();
    let output = switchboard(dir.path(), &["--config", "typo.toml"], &[])
        .output()
        .unwrap();
    let stderr = failure(&output);
    assert!(stderr.contains("max_mesage_bytes"), "{stderr}");
    assert!(stderr.contains("typo.toml"), "{stderr}");
}

#[test]
fn a_missing_named_config_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = switchboard(dir.path(), &["--config", "absent.toml"], &[])
        .output()
        .unwrap();
    let stderr = failure(&output);
    assert!(stderr.contains("absent.toml"), "{stderr}");
}

#[test]
fn production_without_a_strong_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    for vars in [
        vec![("DEVELOPMENT", "false")],
        vec![("DEVELOPMENT", "false"), ("MAGICK_TOKEN", "short")],
    ] {
        let output = switchboard(dir.path(), &["--port", "0"], &vars)
            .output()
            .unwrap();
        let stderr = failure(&output);
        assert!(stderr.contains("MAGICK_TOKEN"), "{stderr}");
    }
}
