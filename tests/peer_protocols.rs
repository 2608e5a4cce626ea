//! The peer-id endpoints of COMPAT.md 2, 3 and 4 (signal-fire, webrtc-bootstrap, Peero)
//! with raw WebSocket clients; tests/compat drives them with the real npm clients.
//! "Nothing arrives" is shown by a later frame arriving first: frames between two
//! peers keep their order.

mod common;

use common::{spawn_app_with, Client, TestApp};
use serde_json::{json, Value};
use switchboard::config::Secret;

async fn with_compat() -> TestApp {
    spawn_app_with(|c| {
        c.compat.signal_fire.enabled = true;
        c.compat.peero.enabled = true;
        c.secrets.bootstrap = Some(Secret::new("rootsecret1"));
        c.compat.bootstrap.seed = 1;
    })
    .await
}

fn url(app: &TestApp, path: &str) -> String {
    format!("ws://{}{path}", app.addr)
}

/// A signal-fire peer and the id the server gave it.
async fn signal_fire_peer(app: &TestApp) -> (Client, String) {
    let mut client = Client::connect(&url(app, "/signal-fire")).await;
    let hello = client.recv_frame("the id frame").await;
    assert_eq!(hello["type"], "id");
    let id = hello["peerId"].as_str().unwrap().to_string();
    (client, id)
}

#[tokio::test]
async fn signal_fire_routes_by_receiver_and_stamps_the_sender() {
    let app = with_compat().await;
    let (mut a, a_id) = signal_fire_peer(&app).await;
    let (mut b, b_id) = signal_fire_peer(&app).await;
    assert_eq!(a_id.len(), 16);
    assert!(a_id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-'));
    assert_ne!(a_id, b_id);

    let sent =
        format!(r#"{{"receiverId":"{b_id}","type":"offer","sdp":"v=0 1.50","senderId":"forged"}}"#);
    a.send_text(sent).await;
    let got = b.recv_frame("the offer").await;
    assert_eq!(
        got,
        json!({"receiverId": b_id, "type": "offer", "sdp": "v=0 1.50", "senderId": a_id})
    );

    // The 0.1 form routes by `peerId`; sending to oneself works.
    a.send(json!({"peerId": a_id, "type": "self"})).await;
    assert_eq!(
        a.recv_frame("its own frame").await["senderId"],
        a_id.as_str()
    );
}

#[tokio::test]
async fn signal_fire_drops_what_it_cannot_route_and_stays_usable() {
    let app = with_compat().await;
    let (mut a, _) = signal_fire_peer(&app).await;
    let (mut b, b_id) = signal_fire_peer(&app).await;
    for bad in [
        "not json",
        "[1,2]",
        "\"text\"",
        "null",
        r#"{"type":"no receiver"}"#,
        r#"{"receiverId":5}"#,
        r#"{"receiverId":"nobody-here-0000"}"#,
        r#"{"receiverId":"__proto__"}"#,
        r#"{"receiverId":"constructor"}"#,
    ] {
        a.send_text(bad).await;
    }
    a.send(json!({"receiverId": b_id, "n": 1})).await;
    assert_eq!(b.recv_frame("the routable frame").await["n"], 1);
    assert!(a.buffered().is_empty());
}

#[tokio::test]
async fn signal_fire_tells_of_unknown_receivers_when_asked_to() {
    let app = spawn_app_with(|c| {
        c.compat.signal_fire.enabled = true;
        c.compat.signal_fire.notify_unknown = true;
    })
    .await;
    let (mut a, _) = signal_fire_peer(&app).await;
    a.send(json!({"receiverId": "gone"})).await;
    assert_eq!(
        a.recv_frame("the error").await,
        json!({"type": "error", "code": "unknown_receiver", "receiverId": "gone"})
    );
}

#[tokio::test]
async fn signal_fire_has_a_listener_of_its_own_where_any_path_speaks_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|c| {
        c.compat.signal_fire.enabled = true;
        c.compat.signal_fire.port = Some(port);
    })
    .await;
    // The main listener answers once `run` has bound every listener.
    let (mut near, _) = signal_fire_peer(&app).await;
    let mut far = Client::connect(&format!("ws://127.0.0.1:{port}/any/path")).await;
    let far_id = far.recv_frame("the id frame").await["peerId"]
        .as_str()
        .unwrap()
        .to_string();
    near.send(json!({"receiverId": far_id})).await;
    far.recv_frame("a frame from the main listener's peer")
        .await;
}

async fn peero_peer(app: &TestApp) -> (Client, String) {
    let mut client = Client::connect(&url(app, "/peero")).await;
    let hello = client.recv_frame("the id frame").await;
    assert_eq!(hello["type"], "id");
    let id = hello["peerId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a version 4 UUID: {id}");
    (client, id)
}

#[tokio::test]
async fn peero_lists_announces_relays_and_removes() {
    let app = with_compat().await;
    let (mut a, a_id) = peero_peer(&app).await;
    let (mut b, b_id) = peero_peer(&app).await;
    a.send(json!({"type": "register"})).await;
    assert_eq!(
        a.recv_frame("peers").await,
        json!({"type": "peers", "peers": []})
    );
    b.send(json!({"type": "register"})).await;
    assert_eq!(
        b.recv_frame("peers").await,
        json!({"type": "peers", "peers": [a_id]})
    );
    assert_eq!(
        a.recv_frame("announce").await,
        json!({"type": "announce", "peerId": b_id})
    );

    a.send(json!({"type": "offer", "signal": {"sdp": "o"}}))
        .await;
    assert_eq!(
        b.recv_frame("offer").await,
        json!({"type": "offer", "peerId": a_id, "signal": {"sdp": "o"}})
    );
    b.send(json!({"type": "answer", "peerId": a_id, "signal": {"sdp": "a"}}))
        .await;
    assert_eq!(
        a.recv_frame("answer").await,
        json!({"type": "answer", "peerId": b_id, "signal": {"sdp": "a"}})
    );
    a.send(json!({"type": "signal", "peerId": b_id, "signal": {"candidate": "c"}}))
        .await;
    assert_eq!(
        b.recv_frame("signal").await,
        json!({"type": "signal", "peerId": a_id, "signal": {"candidate": "c"}})
    );

    b.close().await;
    assert_eq!(
        a.recv_frame("remove").await,
        json!({"type": "remove", "peerId": b_id})
    );
}

#[tokio::test]
async fn peero_answers_bad_input_with_errors() {
    let app = with_compat().await;
    let (mut a, _) = peero_peer(&app).await;
    for bad in [
        "nope",
        "[]",
        r#"{"type":"dance"}"#,
        r#"{"type":5}"#,
        r#"{"type":"answer","peerId":"x"}"#,
    ] {
        a.send_text(bad).await;
        assert_eq!(
            a.recv_frame(bad).await,
            json!({"type": "error", "code": "bad_request"}),
            "{bad}"
        );
    }
    a.send(json!({"type": "answer", "peerId": "missing", "signal": 1}))
        .await;
    assert_eq!(
        a.recv_frame("unknown peer").await,
        json!({"type": "error", "code": "unknown_peer", "peerId": "missing"})
    );
}

/// The HTTP status of a WebSocket upgrade request to `path`, from a page of `origin`.
async fn upgrade_status(app: &TestApp, path: &str, origin: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", app.http_url))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap().status().as_u16()
}

async fn root(app: &TestApp, path: &str) -> Client {
    Client::connect(&url(app, path)).await
}

#[tokio::test]
async fn bootstrap_joins_reach_the_root_and_each_other_with_seeded_ids() {
    let app = with_compat().await;
    let mut root = root(&app, "/rootsecret1/webrtc-bootstrap-root").await;
    let mut first = Client::connect(&url(&app, "/join")).await;
    let mut second = Client::connect(&url(&app, "/join")).await;
    first
        .send(json!({"origin": "forged", "signal": {"type": "offer"}, "rank": 1}))
        .await;
    let request = root.recv_frame("the first request").await;
    assert_eq!(
        request,
        json!({"origin": "143c5677bb8026ada7ad6dbd4a44e705", "signal": {"type": "offer"}, "rank": 1})
    );
    // The root answers through a /join socket of its own, naming the destination.
    second
        .send(json!({"destination": "143c5677bb8026ada7ad6dbd4a44e705", "signal": "answer"}))
        .await;
    assert_eq!(
        first.recv_frame("the answer").await["origin"],
        "8d468468b9b6f61c1a9621ebff91acc5"
    );
}

#[tokio::test]
async fn bootstrap_roots_replace_each_other_and_wrong_secrets_are_404() {
    let app = with_compat().await;
    let mut old = root(&app, "/rootsecret1").await;
    let mut new = root(&app, "/rootsecret1/webrtc-bootstrap-root").await;
    old.expect_close(4001).await;
    let mut join = Client::connect(&url(&app, "/join")).await;
    join.send(json!({"signal": 1})).await;
    new.recv_frame("the request").await;

    for path in [
        "/rootsecret2/webrtc-bootstrap-root",
        "/rootsecret",
        "/rootsecret12",
    ] {
        assert_eq!(upgrade_status(&app, path, None).await, 404, "{path}");
    }
}

#[tokio::test]
async fn bootstrap_join_sockets_time_out_and_the_root_hears_heartbeats() {
    let app = spawn_app_with(|c| {
        c.secrets.bootstrap = Some(Secret::new("rootsecret1"));
        c.compat.bootstrap.timeout_secs = 1;
        c.compat.bootstrap.heartbeat_secs = 1;
    })
    .await;
    let mut root = root(&app, "/rootsecret1").await;
    assert_eq!(root.recv_frame("a heartbeat").await, json!("heartbeat"));
    let mut join = Client::connect(&url(&app, "/join")).await;
    join.expect_close(1000).await;
}

#[tokio::test]
async fn disabled_endpoints_are_plain_404s() {
    let app = common::spawn_app().await;
    let client = reqwest::Client::new();
    for path in ["/signal-fire", "/peero", "/join"] {
        let status = client
            .get(format!("{}{path}", app.http_url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
}

#[tokio::test]
async fn namespaces_do_not_mix_and_origins_hold_on_every_endpoint() {
    let app = spawn_app_with(|c| {
        c.compat.signal_fire.enabled = true;
        c.compat.peero.enabled = true;
        c.server.allowed_origins = vec!["https://app.example".into()];
    })
    .await;
    let (mut sf, sf_id) = signal_fire_peer(&app).await;
    let (mut peero, _) = peero_peer(&app).await;
    peero
        .send(json!({"type": "signal", "peerId": sf_id, "signal": 1}))
        .await;
    assert_eq!(
        peero.recv_frame("unknown peer").await["code"],
        "unknown_peer"
    );
    sf.send(json!({"receiverId": sf_id, "n": 2})).await;
    assert_eq!(sf.recv_frame("its own frame").await["n"], 2);

    for path in ["/ws", "/signal-fire", "/peero"] {
        let status = upgrade_status(&app, path, Some("https://evil.example")).await;
        assert_eq!(status, 403, "{path}");
    }
    let _ok = Client::connect_with_headers(
        &url(&app, "/signal-fire"),
        &[("origin", "https://APP.example")],
    )
    .await;
}

#[tokio::test]
async fn every_endpoint_closes_oversized_messages_with_1009() {
    let app = with_compat().await;
    for path in ["/signal-fire", "/peero", "/join", "/rootsecret1"] {
        let mut client = Client::connect(&url(&app, path)).await;
        let big: Value = json!({"type": "offer", "pad": "x".repeat(70_000)});
        client.send(big).await;
        let code = client.closed_with().await;
        assert_eq!(code, Some(1009), "{path}");
    }
}
