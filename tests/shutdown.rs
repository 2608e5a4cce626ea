//! Graceful shutdown: every socket is closed with 1001 and `run` returns within the
//! configured grace period.

mod common;

use common::*;
use std::time::{Duration, Instant};

/// Asserts that less than `limit` has passed since `started`.
fn assert_returned_within(started: Instant, limit: Duration) {
    assert!(
        started.elapsed() < limit,
        "run returned within {limit:?} (took {:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_gets_1001_and_run_returns() {
    let mut app = spawn_app_with(|c| c.server.shutdown_grace_secs = 2).await;
    let (owner, [ada]) = app.workspace_with(["Ada"]).await;
    let unbound = app.client().await;
    let mut clients = vec![owner.client, ada.client, unbound];

    let started = Instant::now();
    app.trigger_shutdown();
    for client in &mut clients {
        client.expect_close(1001).await;
    }
    app.expect_run_ok().await;
    assert_returned_within(started, Duration::from_secs(2 + 3));

    // Nobody is listening any more.
    let refused = tokio::net::TcpStream::connect(app.addr).await;
    assert!(refused.is_err(), "the listener is closed after run returns");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_returns_within_the_grace_even_if_a_client_never_reads() {
    let mut app = spawn_app_with(|c| c.server.shutdown_grace_secs = 1).await;
    let owner = app.create_workspace(None).await;
    // Held open, never read, never answering the close.
    let _silent = owner.client.into_inner();
    let _another = app.client().await.into_inner();

    let started = Instant::now();
    app.trigger_shutdown();
    app.expect_run_ok().await;
    assert_returned_within(started, Duration::from_secs(1 + 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_server_stops_promptly() {
    let mut app = spawn_app().await;
    // One completed request shows that the server was really up.
    app.create_workspace(None).await;
    let started = Instant::now();
    app.trigger_shutdown();
    app.expect_run_ok().await;
    let grace = app.config.server.shutdown_grace_secs;
    assert_returned_within(started, Duration::from_secs(grace + 2));
}
