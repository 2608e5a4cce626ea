//! Graceful shutdown: every socket is closed with 1001 and `run` returns within the
//! configured grace period.

mod common;

use common::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_gets_1001_and_run_returns() {
    let mut app = spawn_app_with(|c| c.server.shutdown_grace_secs = 2).await;
    let owner = app.create_workspace(None).await;
    let ada = app.attend(&owner.invite(), None, "Ada").await;
    let unbound = app.client().await;
    let mut clients = vec![owner.client, ada.client, unbound];

    let started = Instant::now();
    app.trigger_shutdown();
    for client in &mut clients {
        client.expect_close(1001).await;
    }
    let handle = app.handle.take().expect("run's join handle");
    let result = within("run to return", handle).await.expect("run task");
    assert!(result.is_ok(), "run returned {result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2 + 3),
        "run returned within the grace period (took {:?})",
        started.elapsed()
    );

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
    let handle = app.handle.take().expect("run's join handle");
    let result = within("run to return", handle).await.expect("run task");
    assert!(result.is_ok(), "run returned {result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1 + 3),
        "run returned within the grace period (took {:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_server_stops_promptly() {
    let mut app = spawn_app().await;
    // One completed request shows that the server was really up.
    app.create_workspace(None).await;
    let started = Instant::now();
    app.trigger_shutdown();
    let handle = app.handle.take().expect("run's join handle");
    let result = within("run to return", handle).await.expect("run task");
    assert!(result.is_ok(), "run returned {result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(app.config.server.shutdown_grace_secs + 2),
        "took {:?}",
        started.elapsed()
    );
}
