//! Rate limits a stranger meets: requests per connection (burst, then `rate_limited`,
//! then 1008 far past it) and workspace creation per client IP.

mod common;

use common::*;
use serde_json::{json, Value};

/// Sends `n` requests back to back, then collects their replies in order.
async fn burst(client: &mut Client, n: usize) -> Vec<Value> {
    for _ in 0..n {
        let id = client.fresh_id();
        client.send(json!({"event": "attendees", "id": id})).await;
    }
    let mut replies = Vec::with_capacity(n);
    for _ in 0..n {
        replies.push(client.recv_frame("the replies to a burst").await);
    }
    replies
}

fn is_limited(frame: &Value) -> bool {
    frame["event"] == "alert" && frame["data"]["code"] == "rate_limited"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_served_and_past_it_requests_are_rate_limited() {
    let app = spawn_app().await;
    let burst_size = app.config.limits.request_burst as u64;
    assert_eq!(burst_size, 300, "the default of PROTOCOL.md 1.1");
    let mut owner = app.create_workspace(None).await;
    // The create used one token of the burst, and so does the client's pong to the
    // ping the server sends at once (every frame counts, PROTOCOL.md 1.1). Request ids
    // continue from here; the rest of the burst must be served.
    let first = owner.client.fresh_id() + 1;
    let replies = burst(&mut owner.client, burst_size as usize + 30).await;
    for frame in &replies {
        let re = frame["re"].as_u64().expect("a reply carries its id");
        if re < first + burst_size - 2 {
            assert_eq!(frame["event"], "attendees", "within the burst: {frame}");
        }
    }
    let limited = replies.iter().filter(|f| is_limited(f)).count();
    assert!(limited >= 1, "30 requests past the burst are limited");
    for frame in &replies {
        assert!(
            frame["event"] == "attendees" || is_limited(frame),
            "only successes and rate_limited: {frame}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_does_not_close_and_the_rate_comes_back() {
    let app = spawn_app_with(|c| {
        c.limits.requests_per_second = 10;
        c.limits.request_burst = 5;
    })
    .await;
    let mut owner = app.create_workspace(None).await;
    let replies = burst(&mut owner.client, 10).await;
    assert!(
        replies.iter().any(is_limited),
        "10 at once exceed a burst of 5"
    );
    // Time is what this waits for: the bucket refills at 10 per second.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    owner.client.ok("attendees", json!({}), "attendees").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_far_past_the_rate_is_closed_with_1008() {
    let app = spawn_app_with(|c| {
        c.limits.requests_per_second = 10;
        c.limits.request_burst = 10;
    })
    .await;
    let (owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    // Far past four times the rate; the server may close while we are still sending.
    let frame = json!({"event": "attendees", "id": 1}).to_string();
    let mut socket = owner.client;
    let flood = tokio::spawn(async move {
        for _ in 0..1000 {
            if !socket.try_send_text(&frame).await {
                break;
            }
        }
        socket
    });
    let mut socket = within("the flood", flood).await.expect("flood task");
    let code = socket.closed_with().await;
    assert_eq!(code, Some(1008), "closed for policy");
    // The owner went offline; the others carry on.
    let offline = ada.client.recv_event("attendee-offline").await;
    assert_eq!(offline["attendee_id"], owner.attendee["id"]);
    ada.client.ok("attendees", json!({}), "attendees").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_are_limited_per_ip() {
    let app = spawn_app().await;
    let mut owners = Vec::new();
    for _ in 0..10 {
        owners.push(app.create_workspace(None).await);
    }
    let mut client = app.client().await;
    assert_eq!(client.alert("create", json!({})).await, "rate_limited");
    // The limit is on creating, not on joining.
    app.attend(&owners[0].invite(), None, "Ada").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_create_limit_follows_the_configuration() {
    let app = spawn_app_with(|c| c.limits.creates_per_minute = 2).await;
    app.create_workspace(None).await;
    app.create_workspace(None).await;
    let mut client = app.client().await;
    assert_eq!(client.alert("create", json!({})).await, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_creates_work_when_the_limit_is_raised() {
    let app = spawn_app_with(|c| c.limits.creates_per_minute = 1000).await;
    for _ in 0..30 {
        app.create_workspace(None).await;
    }
}

#[tokio::test]
async fn past_max_connections_an_upgrade_gets_503_until_one_closes() {
    let app = spawn_app_with(|c| c.server.max_connections = 2).await;
    let mut first = Client::connect(&app.ws_url).await;
    let _second = Client::connect(&app.ws_url).await;
    let refused = tokio_tungstenite::connect_async(app.ws_url.as_str()).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 503),
        "the third connection is refused: {refused:?}"
    );
    // The server lets go of a connection before it answers its close.
    first.close().await;
    let admitted = tokio_tungstenite::connect_async(app.ws_url.as_str()).await;
    assert!(
        admitted.is_ok(),
        "a closed connection frees its place: {admitted:?}"
    );
}
