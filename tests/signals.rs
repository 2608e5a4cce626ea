//! The point-to-point signals besides calls (ICE candidates, renegotiation), media
//! state, ICE servers, relay errors, and the order in which pushes arrive.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icecandidate_and_negotiation_pass_through_untouched() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;

    let candidate = json!({"candidate": "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host",
                           "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": null});
    let data = json!({"to": ada.id(), "candidate": candidate});
    owner.client.ok("icecandidate", data, "sent").await;
    let got = ada.client.recv_event("icecandidate").await;
    assert_eq!(got, json!({"from": owner.id(), "candidate": candidate}));

    // Any JSON value passes, not only objects.
    for description in [json!("plain text"), json!([1, 2.5, true]), json!(null)] {
        let data = json!({"to": owner.id(), "description": description});
        ada.client.ok("negotiation", data, "sent").await;
        let got = owner.client.recv_event("negotiation").await;
        assert_eq!(got, json!({"from": ada.id(), "description": description}));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_errors_name_the_problem() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    // A member of another workspace is not a member of this one.
    let other = app.create_workspace(None).await;

    for to in ["_nobody0000".to_string(), other.id()] {
        let data = json!({"to": to, "candidate": {}});
        assert_eq!(
            owner.client.alert("icecandidate", data).await,
            "unknown_attendee"
        );
        let data = json!({"to": to, "call": "c", "sdp": "o"});
        assert_eq!(owner.client.alert("ring", data).await, "unknown_attendee");
    }
    let ada_id = ada.id();
    ada.go_offline_seen_by(&mut owner).await;
    let data = json!({"to": ada_id, "candidate": {}});
    assert_eq!(
        owner.client.alert("icecandidate", data).await,
        "peer_offline"
    );
    let data = json!({"to": ada_id, "description": {}});
    assert_eq!(
        owner.client.alert("negotiation", data).await,
        "peer_offline"
    );
    let data = json!({"to": ada_id, "call": "c"});
    assert_eq!(owner.client.alert("busy", data).await, "peer_offline");

    let missing = json!({ "to": ada_id });
    assert_eq!(
        owner.client.alert("icecandidate", missing).await,
        "bad_request"
    );
    let mistyped = json!({"to": 5, "candidate": {}});
    assert_eq!(
        owner.client.alert("icecandidate", mistyped).await,
        "bad_request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_is_pushed_with_current_values_and_listed() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;

    ada.client.ok("state", json!({"mic": true}), "sent").await;
    let expected = json!({"from": ada.id(), "mic": true, "cam": null});
    assert_eq!(owner.client.recv_event("state").await, expected);
    assert_eq!(bob.client.recv_event("state").await, expected);

    // A change to one field keeps the other.
    ada.client.ok("state", json!({"cam": false}), "sent").await;
    let expected = json!({"from": ada.id(), "mic": true, "cam": false});
    assert_eq!(owner.client.recv_event("state").await, expected);
    assert_eq!(bob.client.recv_event("state").await, expected);

    let listed = bob.list_attendees().await;
    let listed_ada = find(&listed, &ada.id());
    assert_eq!(
        (&listed_ada["mic"], &listed_ada["cam"]),
        (&json!(true), &json!(false))
    );
    let listed_owner = find(&listed, &owner.id());
    assert!(listed_owner["mic"].is_null() && listed_owner["cam"].is_null());
    // Later joiners see it too.
    let carol = app.attend(&owner.invite(), None, "Carol").await;
    assert_eq!(find(&carol.reply["attendees"], &ada.id())["mic"], true);

    let wrong = json!({"mic": "yes"});
    assert_eq!(ada.client.alert("state", wrong).await, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iceservers_lists_the_configured_stun_urls() {
    let urls = vec![
        "stun:stun.example.org:3478".to_string(),
        "stun:10.0.0.1".to_string(),
    ];
    let configured = urls.clone();
    let app = spawn_app_with(move |c| c.ice.stun_urls = configured).await;
    let mut owner = app.create_workspace(None).await;
    let reply = owner.client.ok("iceservers", json!({}), "iceservers").await;
    assert_eq!(reply["ice_servers"], json!([{ "urls": urls }]), "{reply}");
    assert!(reply["ttl"].is_u64(), "ttl is a number of seconds: {reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_candidates_arrive_in_the_order_sent() {
    const N: u64 = 1000;
    let app = spawn_app_with(|c| {
        c.limits.requests_per_second = 100_000;
        c.limits.request_burst = 100_000;
    })
    .await;
    let (mut owner, [ada]) = app.acquainted_workspace(["Ada"]).await;
    let (to, from) = (ada.id(), owner.id());
    let mut receiver = ada.client;

    let reader = tokio::spawn(async move {
        let mut seen = Vec::new();
        while seen.len() < N as usize {
            let data = receiver.recv_event("icecandidate").await;
            assert_eq!(data["from"], json!(from));
            seen.push(data["candidate"]["seq"].as_u64().expect("seq"));
        }
        seen
    });
    // Sent back to back, without waiting for replies.
    for seq in 0..N {
        let id = owner.client.fresh_id();
        let data = json!({"to": to, "candidate": {"seq": seq}});
        owner
            .client
            .send(json!({"event": "icecandidate", "id": id, "data": data}))
            .await;
    }
    for _ in 0..N {
        let frame = owner
            .client
            .recv_frame("the replies to the candidates")
            .await;
        assert_eq!(frame["event"], "sent", "{frame}");
    }
    let seen = within("the receiver", reader).await.expect("receiver task");
    let expected: Vec<u64> = (0..N).collect();
    assert_eq!(seen, expected, "candidates arrive in the order sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_gets_exactly_one_reply() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let ids: Vec<Value> = vec![json!(1), json!("two"), json!(-3), json!(u64::MAX)];
    for id in &ids {
        owner
            .client
            .send(json!({"event": "attendees", "id": id}))
            .await;
    }
    let mut answered = Vec::new();
    for _ in &ids {
        let frame = owner.client.recv_frame("a reply").await;
        assert_eq!(frame["event"], "attendees", "{frame}");
        answered.push(frame["re"].clone());
    }
    for id in &ids {
        assert!(answered.contains(id), "{id} answered: {answered:?}");
    }
    // And nothing more: the next frame answers the next request.
    let frame = owner.client.request("refresh", json!({})).await;
    assert_eq!(frame["event"], "refreshed");
}
