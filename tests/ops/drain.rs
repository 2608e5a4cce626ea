//! The drain: every socket gets 1012 (Engine.IO sessions an Engine.IO close, never a
//! Socket.IO disconnect), nothing new gets in, `/readyz` says so, and the server exits
//! once empty. Started by the admin API or by SIGUSR1.

use super::*;
use reqwest::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_moves_every_client_and_the_server_exits_once_empty() {
    let mut app = with_admin(|c| c.server.shutdown_grace_secs = 30).await;
    let (ready, _) = answer(request(&app, Method::GET, "/readyz", None)).await;
    assert_eq!(ready, 200);
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let sid = engine_io_session(&app).await;

    let (status, body) = answer(request(&app, Method::POST, "/admin/api/drain", Some(TOKEN))).await;
    assert_eq!((status, body["draining"].as_bool()), (202, Some(true)));
    owner.client.expect_close(1012).await;
    ada.client.expect_close(1012).await;
    let poll = format!(
        "{}/socket.io/?EIO=3&transport=polling&sid={sid}",
        app.http_url
    );
    let said = within("the session's last poll", reqwest::get(poll))
        .await
        .unwrap();
    let said = said.text().await.unwrap();
    assert!(said.ends_with("1:1"), "an Engine.IO close packet: {said:?}");
    assert!(!said.contains(":41"), "no Socket.IO disconnect: {said:?}");

    // Everyone has gone: the server stops well before its 30 s bound.
    app.expect_run_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_is_not_ready_and_refuses_new_connections() {
    // A member waiting for its ICE servers from a Twilio that never answers keeps the
    // node draining until that request times out (5 s): the window looked into here.
    let twilio = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let twilio_url = format!("http://{}", twilio.local_addr().unwrap());
    let app = with_admin(|c| {
        c.server.shutdown_grace_secs = 30;
        c.ice.provider = switchboard::config::Providers::One(switchboard::config::Provider::Twilio);
        c.ice.twilio_base_url = twilio_url;
        c.secrets.twilio_sid = Some(Secret::new("AC0123"));
        c.secrets.twilio_token = Some(Secret::new("twilio-token"));
    })
    .await;
    let mut owner = app.create_workspace(None).await;
    owner
        .client
        .send(serde_json::json!({"id": 9, "event": "iceservers", "data": {}}))
        .await;
    let (_held, _) = within("the request to Twilio", twilio.accept())
        .await
        .unwrap();
    let (status, _) = answer(request(&app, Method::POST, "/admin/api/drain", Some(TOKEN))).await;
    assert_eq!(status, 202);
    let (status, body) = answer(request(&app, Method::GET, "/readyz", None)).await;
    assert_eq!((status, body["reason"].as_str()), (503, Some("draining")));
    let refused = request(&app, Method::GET, "/ws", None)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    let (status, _) = answer(refused).await;
    assert_eq!(status, 503);
    let (alive, _) = answer(request(&app, Method::GET, "/healthz", None)).await;
    assert_eq!(alive, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigusr1_drains_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let config = bin::write_config(dir.path(), &dir.path().join("store"), "");
    let server = bin::Running::start(dir.path(), &config).await;
    let mut client = Client::connect(&server.ws_url()).await;
    let mut server = server;
    // SAFETY: kill(2) on our own child's pid, with a valid signal number.
    let rc = unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGUSR1) };
    assert_eq!(rc, 0);
    client.expect_close(1012).await;
    let mut child = std::mem::replace(
        &mut server.child,
        std::process::Command::new("true").spawn().unwrap(),
    );
    let status = within(
        "the drained process to exit",
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(status.success(), "a drained server exits 0: {status}");
}

/// Opens an Engine.IO (Socket.IO) polling session and reads its first poll; returns
/// its `sid`.
async fn engine_io_session(app: &TestApp) -> String {
    let url = format!("{}/socket.io/?EIO=3&transport=polling", app.http_url);
    let open = reqwest::get(url).await.unwrap().text().await.unwrap();
    let start = open.find("\"sid\":\"").expect("an open packet") + 7;
    let sid = &open[start..];
    let sid = sid[..sid.find('"').unwrap()].to_string();
    assert!(
        open.contains("40"),
        "the Socket.IO connect in the first poll: {open:?}"
    );
    sid
}
