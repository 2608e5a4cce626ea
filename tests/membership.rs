//! Being a member: listing, refreshing the session, leaving, and what needs a
//! membership (or ownership) at all.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_only_events_need_a_membership() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let events = [
        ("refresh", json!({})),
        ("attendees", json!({})),
        ("leave", json!({})),
        ("kick", json!({"attendee_id": "_abcdefghij"})),
        ("destroy", json!({})),
        (
            "ring",
            json!({"to": "_abcdefghij", "call": "c", "sdp": "x"}),
        ),
        (
            "answer",
            json!({"to": "_abcdefghij", "call": "c", "sdp": "x"}),
        ),
        ("busy", json!({"to": "_abcdefghij", "call": "c"})),
        ("hangup", json!({"call": "c"})),
        (
            "icecandidate",
            json!({"to": "_abcdefghij", "candidate": {}}),
        ),
        (
            "negotiation",
            json!({"to": "_abcdefghij", "description": {}}),
        ),
        ("state", json!({"mic": true})),
        ("iceservers", json!({})),
    ];
    for (event, data) in events {
        assert_eq!(client.alert(event, data).await, "not_attending", "{event}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_returns_a_working_session_token_for_the_same_membership() {
    let app = spawn_app().await;
    let (_owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let refreshed = ada.client.ok("refresh", json!({}), "refreshed").await;
    let token = str_of(&refreshed["token"]);
    let fresh = claims(&token);
    let old = claims(&ada.token);
    assert_eq!(fresh["typ"], "session");
    assert_eq!(fresh["sub"], old["sub"]);
    assert_eq!(fresh["wid"], old["wid"]);
    assert_eq!(fresh["role"], "attendee");
    assert!(fresh["exp"].as_u64() >= old["exp"].as_u64());

    // The refreshed token brings the same membership back on a new socket.
    ada.client.close().await;
    let (_client, frame) = app.try_re_attend(&token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(frame["data"]["attendee"]["id"], ada.attendee["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_last_the_configured_ttl() {
    let app = spawn_app_with(|c| c.auth.session_ttl_secs = 120).await;
    let mut owner = app.create_workspace(None).await;
    let session = claims(&owner.token);
    let iat = session["iat"].as_u64().expect("iat");
    assert_eq!(session["exp"].as_u64(), Some(iat + 120));
    let refreshed = owner.client.ok("refresh", json!({}), "refreshed").await;
    let session = claims(&str_of(&refreshed["token"]));
    let iat = session["iat"].as_u64().expect("iat");
    assert_eq!(session["exp"].as_u64(), Some(iat + 120));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_removes_the_member_and_tells_the_others() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;

    let left = ada.client.ok("leave", json!({}), "left").await;
    assert_eq!(left, json!({}));
    let push = owner.client.recv_event("attendee-left").await;
    assert_eq!(push["attendee_id"], ada.attendee["id"]);
    assert_eq!(push["reason"], "left");
    assert_eq!(ids_of(&owner.list_attendees().await), vec![owner.id()]);

    // The socket is unbound: member events are refused, and it may attend again.
    assert_eq!(
        ada.client.alert("attendees", json!({})).await,
        "not_attending"
    );
    let again = ada
        .client
        .ok(
            "attend",
            json!({ "invite": owner.invite(), "name": "Ada" }),
            "attended",
        )
        .await;
    assert_ne!(
        again["attendee"]["id"], ada.attendee["id"],
        "a new membership"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_refused_after_its_member_left() {
    let app = spawn_app().await;
    let (_owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    ada.client.ok("leave", json!({}), "left").await;
    assert_eq!(app.re_attend_alert(&ada.token).await, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_cannot_leave() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    assert_eq!(owner.client.alert("leave", json!({})).await, "forbidden");
    // Still the owner of a live workspace.
    assert_eq!(ids_of(&owner.list_attendees().await), vec![owner.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_only_events_are_forbidden_to_attendees() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, bob]) = app.workspace_with(["Ada", "Bob"]).await;
    let kick = json!({ "attendee_id": bob.id() });
    assert_eq!(ada.client.alert("kick", kick).await, "forbidden");
    assert_eq!(ada.client.alert("destroy", json!({})).await, "forbidden");
    // Nothing changed.
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id(), bob.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attendees_shows_who_is_online() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    ada.go_offline_seen_by(&mut owner).await;

    let attendees = &owner.list_attendees().await;
    assert_eq!(ids_of(attendees), vec![owner.id(), ada.id()]);
    assert_eq!(find(attendees, &owner.id())["online"], true);
    assert_eq!(find(attendees, &ada.id())["online"], false);
    assert_eq!(find(attendees, &ada.id())["role"], "attendee");
}
