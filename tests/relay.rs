//! Calls: ring, answer, busy and hangup between members, and the workspace's `call`
//! that later joiners see.

mod common;

use common::*;
use serde_json::{json, Value};

/// An SDP-like payload with nesting and unicode, to prove it passes untouched.
fn offer() -> Value {
    json!({"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n", "extra": [1, {"ü": null}]})
}

fn participants(call: &Value) -> Vec<String> {
    let mut ids = call["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("call without participants: {call}"))
        .iter()
        .map(str_of)
        .collect::<Vec<_>>();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// `sender` sends a media-state marker, which must be the next push `listener` hears:
/// nothing sent before it reached `listener`.
async fn expect_marker_next(sender: &mut Member, listener: &mut Member, state: Value) {
    sender.client.ok("state", state, "sent").await;
    let marker = listener.client.recv_event("state").await;
    assert_eq!(marker["from"], sender.attendee["id"]);
}

/// The owner rings `guest` in `call`, who hears the ring and answers it.
async fn ring_and_answer(owner: &mut Member, guest: &mut Member, call: &str) {
    let ring = json!({"to": guest.id(), "call": call, "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    guest.client.expect_push("ring").await;
    let answer = json!({"to": owner.id(), "call": call, "sdp": "a"});
    guest.client.ok("answer", answer, "sent").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_and_answer_reach_the_target_untouched() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;

    // `from` is whatever the server knows, never what the sender claims.
    let ring = json!({"to": ada.id(), "call": "call-1", "sdp": offer(), "from": "_forged0000"});
    let sent = owner.client.ok("ring", ring, "sent").await;
    assert_eq!(sent, json!({}));
    let got = ada.client.recv_event("ring").await;
    assert_eq!(
        got,
        json!({"from": owner.id(), "call": "call-1", "sdp": offer()})
    );

    let answer = json!({"to": owner.id(), "call": "call-1", "sdp": "answer-sdp"});
    ada.client.ok("answer", answer, "sent").await;
    let got = owner.client.recv_event("answer").await;
    assert_eq!(
        got,
        json!({"from": ada.id(), "call": "call-1", "sdp": "answer-sdp"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answered_ring_puts_both_in_the_call_and_owner_hangup_ends_it() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let ring = json!({"to": ada.id(), "call": "c1", "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    ada.client.recv_event("ring").await;
    let answer = json!({"to": owner.id(), "call": "c1", "sdp": "a"});
    ada.client.ok("answer", answer, "sent").await;
    owner.client.expect_push("answer").await;

    let mut bob = app.attend(&owner.invite(), None, "Bob").await;
    let call = &bob.reply["call"];
    assert_eq!(call["id"], "c1", "{call}");
    assert_eq!(participants(call), sorted(vec![owner.id(), ada.id()]));

    // The owner's hangup without `to` ends the call for everyone online.
    owner
        .client
        .ok("hangup", json!({"call": "c1"}), "sent")
        .await;
    let expected = json!({"from": owner.id(), "call": "c1"});
    assert_eq!(ada.client.expect_push("hangup").await, expected);
    assert_eq!(bob.client.expect_push("hangup").await, expected);
    let carol = app.attend(&owner.invite(), None, "Carol").await;
    assert!(carol.reply["call"].is_null(), "call ended: {}", carol.reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attendee_hangup_removes_only_them_from_the_call() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.workspace_with(["Ada", "Bob"]).await;
    for guest in [&mut ada, &mut bob] {
        ring_and_answer(&mut owner, guest, "c").await;
        owner.client.expect_push("answer").await;
    }
    let carol = app.attend(&owner.invite(), None, "Carol").await;
    let all = sorted(vec![owner.id(), ada.id(), bob.id()]);
    assert_eq!(participants(&carol.reply["call"]), all);

    ada.client.ok("hangup", json!({"call": "c"}), "sent").await;
    let dave = app.attend(&owner.invite(), None, "Dave").await;
    assert_eq!(dave.reply["call"]["id"], "c");
    assert_eq!(
        participants(&dave.reply["call"]),
        sorted(vec![owner.id(), bob.id()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_ring_starts_no_call() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let ring = json!({"to": ada.id(), "call": "c", "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    ada.client.recv_event("ring").await;
    let bob = app.attend(&owner.invite(), None, "Bob").await;
    assert!(bob.reply["call"].is_null(), "{}", bob.reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_goes_to_the_target_only() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;

    let busy = json!({"to": owner.id(), "call": "c"});
    ada.client.ok("busy", busy, "sent").await;
    let got = owner.client.recv_event("busy").await;
    assert_eq!(got, json!({"from": ada.id(), "call": "c"}));

    // Bob got nothing from it: the next thing he hears is this marker.
    expect_marker_next(&mut ada, &mut bob, json!({"mic": true})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_without_to_reaches_every_other_online_member() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;

    bob.client.ok("hangup", json!({"call": "c"}), "sent").await;
    let expected = json!({"from": bob.id(), "call": "c"});
    assert_eq!(owner.client.recv_event("hangup").await, expected);
    assert_eq!(ada.client.recv_event("hangup").await, expected);
    // Not echoed to the sender: its next push is someone else's marker.
    expect_marker_next(&mut ada, &mut bob, json!({"cam": false})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_with_to_reaches_only_the_target() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;

    let hangup = json!({"call": "c", "to": ada.id()});
    owner.client.ok("hangup", hangup, "sent").await;
    let got = ada.client.recv_event("hangup").await;
    assert_eq!(got, json!({"from": owner.id(), "call": "c"}));
    expect_marker_next(&mut ada, &mut bob, json!({"mic": false})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_ids_must_be_1_to_64_characters() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let to = ada.id();
    let cases = [
        (
            "ring",
            json!({"to": to, "call": "", "sdp": "o"}),
            "bad_request",
        ),
        (
            "ring",
            json!({"to": to, "call": "c".repeat(65), "sdp": "o"}),
            "too_large",
        ),
        (
            "answer",
            json!({"to": to, "call": "", "sdp": "o"}),
            "bad_request",
        ),
        (
            "busy",
            json!({"to": to, "call": "c".repeat(65)}),
            "too_large",
        ),
        ("hangup", json!({"call": ""}), "bad_request"),
        ("ring", json!({"to": to, "sdp": "o"}), "bad_request"),
        (
            "ring",
            json!({"to": to, "call": 7, "sdp": "o"}),
            "bad_request",
        ),
        ("ring", json!({"to": to, "call": "c"}), "bad_request"),
        ("busy", json!({"call": "c"}), "bad_request"),
        ("hangup", json!({}), "bad_request"),
    ];
    for (event, data, code) in cases {
        assert_eq!(
            owner.client.alert(event, data.clone()).await,
            code,
            "{event} {data}"
        );
    }
    // None of them reached Ada; 64 characters is fine and does.
    let call = "c".repeat(64);
    let ring = json!({"to": to, "call": call, "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    assert_eq!(ada.client.recv_event("ring").await["call"], json!(call));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_who_leave_or_are_kicked_drop_out_of_the_call() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.workspace_with(["Ada", "Bob"]).await;
    for guest in [&mut ada, &mut bob] {
        ring_and_answer(&mut owner, guest, "c").await;
    }
    ada.client.ok("leave", json!({}), "left").await;
    let carol = app.attend(&owner.invite(), None, "Carol").await;
    let expected = sorted(vec![owner.id(), bob.id()]);
    assert_eq!(participants(&carol.reply["call"]), expected);

    let kick = json!({ "attendee_id": bob.id() });
    owner.client.ok("kick", kick, "kicked").await;
    let dave = app.attend(&owner.invite(), None, "Dave").await;
    assert_eq!(participants(&dave.reply["call"]), vec![owner.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_to_oneself_is_a_bad_request_and_sets_no_call() {
    let app = spawn_app().await;
    let (mut owner, [_ada]) = app.acquainted_workspace(["Ada"]).await;
    let me = owner.id();
    let cases = [
        ("answer", json!({"to": me, "call": "c1", "sdp": "x"})),
        ("ring", json!({"to": me, "call": "c1", "sdp": "x"})),
        ("icecandidate", json!({"to": me, "candidate": null})),
        ("negotiation", json!({"to": me, "description": {}})),
        ("busy", json!({"to": me, "call": "c1"})),
        ("hangup", json!({"to": me, "call": "c1"})),
    ];
    for (event, data) in cases {
        assert_eq!(
            owner.client.alert(event, data).await,
            "bad_request",
            "{event}"
        );
    }
    // Newcomers are told of no call.
    let newcomer = app.attend(&owner.invite(), None, "Bea").await;
    assert_eq!(newcomer.reply["call"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relayed_payloads_nest_at_most_32_levels() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let nested = |n: usize| -> Value {
        let text = format!("{}1{}", "[".repeat(n), "]".repeat(n));
        serde_json::from_str(&text).unwrap()
    };
    let deep = json!({"to": ada.id(), "candidate": nested(33)});
    assert_eq!(
        owner.client.alert("icecandidate", deep).await,
        "bad_request"
    );
    let fine = json!({"to": ada.id(), "candidate": nested(32)});
    owner.client.ok("icecandidate", fine, "sent").await;
    let got = ada.client.recv_event("icecandidate").await;
    assert_eq!(got["candidate"], nested(32));
    // 20,000 levels, as text: refused, and the connection carries on.
    let text = format!(
        r#"{{"event":"icecandidate","id":77,"data":{{"to":"{}","candidate":{}1{}}}}}"#,
        ada.id(),
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    owner.client.send_text(text).await;
    let frame = owner
        .client
        .recv_frame("the answer to a deep payload")
        .await;
    assert_eq!(alert_code(&frame), "bad_request", "{frame}");
    owner.client.ok("attendees", json!({}), "attendees").await;
}
