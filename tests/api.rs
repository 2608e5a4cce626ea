//! The embedding contract of `switchboard::run`: an application (or a test) can
//! `tokio::spawn` it on its own runtime, and stop it through the shutdown future.
//! `tokio::spawn` requires a `Send` future, so this file does not compile otherwise.

mod common;

use common::*;
use switchboard::config::Secret;
use switchboard::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_can_be_spawned_and_stopped_on_a_tokio_runtime() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local address");
    let mut config = Config::default();
    config.secrets.jwt = Some(Secret::new(SECRET));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard::run(config, listener, async {
        let _ = stopped.await;
    }));

    let health = within(
        "GET /healthz",
        reqwest::get(format!("http://{addr}/healthz")),
    )
    .await
    .expect("healthz answers");
    assert_eq!(health.status(), 200);

    stop.send(()).expect("server still running");
    let result = within("run to return after shutdown", server).await;
    assert!(matches!(result, Ok(Ok(()))), "{result:?}");
}
