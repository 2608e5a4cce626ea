//! The envelope: malformed, oversized, binary and unknown frames get an `alert`
//! (with `re` when the id was usable), and the connection carries on.

mod common;

use common::*;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// Sends raw text and returns the next frame, which must be an alert.
async fn alert_for(client: &mut Client, text: &str) -> Value {
    client.send_text(text).await;
    let frame = client
        .recv_frame(&format!("the alert for {text:.60}"))
        .await;
    assert_eq!(frame["event"], "alert", "answer to {text:.60}: {frame}");
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_frames_get_bad_request_without_re_and_the_socket_carries_on() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let frames = [
        "not json",
        "{\"event\": \"create\"",
        "[1, 2, 3]",
        "\"create\"",
        "42",
        "null",
        r#"{"event": "create", "id": 1.5}"#,
        r#"{"event": "create", "id": {"n": 1}}"#,
        r#"{"event": "create", "id": [1]}"#,
        r#"{"event": "create", "id": true}"#,
    ];
    for text in frames {
        let frame = alert_for(&mut client, text).await;
        assert_eq!(alert_code(&frame), "bad_request", "{text}");
        assert!(frame.get("re").is_none(), "no usable id in {text}: {frame}");
    }
    // None of that did any harm.
    client.ok("create", json!({}), "created").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlong_string_id_is_not_echoed() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let id = "i".repeat(65);
    let text = json!({"event": "create", "id": id}).to_string();
    let frame = alert_for(&mut client, &text).await;
    assert!(frame.get("re").is_none(), "{frame}");
    let code = alert_code(&frame);
    assert!(code == "bad_request" || code == "too_large", "{frame}");
    // 64 characters is a usable id.
    let id = "i".repeat(64);
    client
        .send(json!({"event": "create", "id": id, "data": {}}))
        .await;
    let frame = client.recv_frame("the reply to create").await;
    assert_eq!(frame["event"], "created");
    assert_eq!(frame["re"], json!(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_with_a_usable_id_are_answered_with_re() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let cases = [
        (json!({"id": 1}), "bad_request"),
        (json!({"id": 2, "event": 7}), "bad_request"),
        (
            json!({"id": 3, "event": "create", "data": [1]}),
            "bad_request",
        ),
        (
            json!({"id": 4, "event": "create", "data": "x"}),
            "bad_request",
        ),
        (
            json!({"id": "five", "event": "fly-to-the-moon"}),
            "unknown_event",
        ),
        (json!({"id": 6, "event": ""}), "unknown_event"),
        (
            json!({"id": 7, "event": "create", "data": {"name": ["x"]}}),
            "bad_request",
        ),
        (
            json!({"id": 8, "event": "re-attend", "data": {}}),
            "bad_request",
        ),
        (
            json!({"id": 9, "event": "re-attend", "data": {"token": 5}}),
            "bad_request",
        ),
    ];
    for (frame, code) in cases {
        client.send(frame.clone()).await;
        let reply = client.recv_frame("an alert").await;
        assert_eq!(reply["re"], frame["id"], "{frame} -> {reply}");
        assert_eq!(alert_code(&reply), code, "{frame}");
    }
    client.ok("create", json!({}), "created").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    client
        .send(json!({"event": "create", "id": 1, "version": 2, "data": {"name": "x", "color": "red"}}))
        .await;
    let frame = client.recv_frame("created").await;
    assert_eq!(frame["event"], "created", "{frame}");
    assert_eq!(frame["data"]["workspace"]["name"], "x");
    // `data` may be omitted when empty.
    client.send(json!({"event": "attendees", "id": 2})).await;
    let frame = client.recv_frame("attendees").await;
    assert_eq!(frame["event"], "attendees", "{frame}");
    assert_eq!(frame["re"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_are_bad_request_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let json = json!({"event": "create", "id": 1}).to_string();
    client
        .send_message(Message::Binary(json.into_bytes()))
        .await;
    let frame = client.recv_frame("the alert for a binary frame").await;
    assert_eq!(alert_code(&frame), "bad_request");
    client.ok("create", json!({}), "created").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_at_the_limit_is_served() {
    let app = spawn_app_with(|c| c.limits.max_message_bytes = 4096).await;
    let mut client = app.client().await;
    let base = json!({"event": "create", "id": 1, "data": {"pad": ""}}).to_string();
    let pad = "p".repeat(4096 - base.len());
    let text = json!({"event": "create", "id": 1, "data": {"pad": pad}}).to_string();
    assert_eq!(text.len(), 4096);
    client.send_text(text).await;
    let frame = client.recv_frame("the reply to a frame at the limit").await;
    assert_eq!(frame["event"], "created", "{frame}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_frame_gets_too_large_then_close_1009() {
    let app = spawn_app_with(|c| c.limits.max_message_bytes = 4096).await;
    let (mut owner, [ada]) = app.acquainted_workspace(["Ada"]).await;
    let ada_id = ada.id();
    let mut ada = ada.client;

    let text = json!({"event": "state", "id": 1, "data": {"pad": "p".repeat(4097)}}).to_string();
    ada.send_text(text).await;
    let frame = ada.recv_frame("the too_large alert").await;
    assert_eq!(alert_code(&frame), "too_large");
    ada.expect_close(1009).await;
    // The member went offline, as with any close without leave.
    let offline = owner.client.recv_event("attendee-offline").await;
    assert_eq!(offline["attendee_id"], json!(ada_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_limit_is_64_kib() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let text = json!({"event": "create", "data": {"pad": "p".repeat(65_536)}}).to_string();
    client.send_text(text).await;
    let frame = client.recv_frame("the too_large alert").await;
    assert_eq!(alert_code(&frame), "too_large");
    client.expect_close(1009).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_changes_nothing() {
    let app = spawn_app().await;
    let (mut owner, [ada]) = app.workspace_with(["Ada"]).await;
    let before = owner.client.ok("attendees", json!({}), "attendees").await;
    let kick = json!({"attendee_id": "_nobody0000"});
    assert_eq!(owner.client.alert("kick", kick).await, "unknown_attendee");
    let kick = json!({"attendee_id": 5});
    assert_eq!(owner.client.alert("kick", kick).await, "bad_request");
    let after = owner.client.ok("attendees", json!({}), "attendees").await;
    assert_eq!(before, after);
    assert_eq!(ids_of(&after["attendees"]), vec![owner.id(), ada.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_limit_counts_bytes_not_characters() {
    let app = spawn_app_with(|c| c.limits.max_message_bytes = 4096).await;
    let mut client = app.client().await;
    // 3000 characters, 6000 bytes.
    let text = json!({"event": "create", "data": {"pad": "é".repeat(3000)}}).to_string();
    assert!(text.chars().count() < 4096 && text.len() > 4096);
    client.send_text(text).await;
    let frame = client.recv_frame("the too_large alert").await;
    assert_eq!(alert_code(&frame), "too_large");
    client.expect_close(1009).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_quote_at_most_64_characters_of_the_input() {
    let app = spawn_app().await;
    let (mut owner, [_ada]) = app.acquainted_workspace(["Ada"]).await;
    let long = "q".repeat(60_000);
    let cases = [
        json!({"event": "state", "id": 1, "data": {"mic": long}}),
        json!({"event": "icecandidate", "id": 2, "data": {"to": long, "candidate": 1}}),
        json!({"event": long, "id": 3}),
        json!({"event": "kick", "id": 4, "data": {"attendee_id": long}}),
    ];
    for case in cases {
        let frame = alert_for(&mut owner.client, &case.to_string()).await;
        let message = frame["data"]["message"].as_str().unwrap_or_default();
        assert!(!message.contains(&"q".repeat(65)), "{message:.200}");
        assert!(message.chars().count() < 200, "{message:.200}");
    }
}
