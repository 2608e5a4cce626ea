//! Presence: a closed socket makes a member offline, `re-attend` brings them back, a
//! newer socket replaces an older one, and offline members expire.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_socket_makes_the_member_offline_and_re_attend_brings_them_back() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let ada_id = ada.id();
    let offline = ada.go_offline_seen_by(&mut owner).await;
    assert_eq!(offline, json!({ "attendee_id": ada_id }));

    let (mut client, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    let data = &frame["data"];
    assert_eq!(data["attendee"]["id"], json!(ada_id));
    assert_eq!(data["attendee"]["name"], "Ada");
    assert_eq!(data["attendee"]["online"], true);
    assert_eq!(data["workspace"]["id"], owner.workspace["id"]);
    assert!(data["call"].is_null(), "{data}");
    assert_eq!(ids_of(&data["attendees"]), vec![owner.id(), ada_id.clone()]);
    assert_eq!(find(&data["attendees"], &ada_id)["online"], true);
    // A fresh session token for the same membership, which works.
    let session = claims(&str_of(&data["token"]));
    assert_eq!(session["sub"], json!(ada_id));
    assert_eq!(session["typ"], "session");

    let online = owner.client.recv_event("attendee-online").await;
    assert_eq!(online, json!({ "attendee_id": ada_id }));
    // The returned member is fully usable.
    let ring = json!({"to": ada_id, "call": "c", "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    assert_eq!(client.recv_event("ring").await["from"], json!(owner.id()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_can_come_back_too() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let (owner_id, token) = (owner.id(), owner.token.clone());
    owner.client.close().await;
    let offline = ada.client.recv_event("attendee-offline").await;
    assert_eq!(offline["attendee_id"], json!(owner_id));

    let (mut back, frame) = app.try_re_attend(&token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(frame["data"]["attendee"]["role"], "owner");
    ada.client.recv_event("attendee-online").await;
    // Still the owner: it may kick.
    let kick = json!({ "attendee_id": ada.id() });
    back.ok("kick", kick, "kicked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_socket_replaces_the_older_one_with_4001() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;

    let (mut newer, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    ada.client.expect_close(4001).await;

    // Ada never was offline: the owner hears neither offline nor online, only
    // the marker that follows.
    newer.ok("state", json!({"mic": true}), "sent").await;
    let next = owner.client.next_push().await;
    assert_eq!(
        next["event"], "state",
        "no presence change for a replaced socket: {next}"
    );
    let listed = owner.list_attendees().await;
    assert_eq!(find(&listed, &ada.id())["online"], true);

    // Pushes now go to the newer socket.
    let ring = json!({"to": ada.id(), "call": "c", "sdp": "o"});
    owner.client.ok("ring", ring, "sent").await;
    newer.recv_event("ring").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_members_expire_as_attendee_left_timeout() {
    let clock = Clock::system();
    // The default ttl (five minutes), let pass at once; a sweep runs every second.
    let app = spawn_app_with_clock(clock.clone(), |_| {}).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    ada.go_offline_seen_by(&mut owner).await;
    let ttl = app.config.workspace.offline_ttl_secs;
    clock.advance(std::time::Duration::from_secs(ttl));

    let left = owner.client.recv_event("attendee-left").await;
    assert_eq!(left, json!({"attendee_id": ada.id(), "reason": "timeout"}));
    assert_eq!(ids_of(&owner.list_attendees().await), vec![owner.id()]);
    assert_eq!(app.re_attend_alert(&ada.token).await, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coming_back_in_time_cancels_the_expiry() {
    let app = spawn_app_with(|c| c.workspace.offline_ttl_secs = 2).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    ada.go_offline_seen_by(&mut owner).await;
    let (mut back, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    owner.client.recv_event("attendee-online").await;

    // Past the TTL (time itself is awaited here), Ada is still a member.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    back.ok("state", json!({"cam": true}), "sent").await;
    let next = owner.client.next_push().await;
    assert_eq!(
        next["event"], "state",
        "no expiry after coming back: {next}"
    );
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_attend_refuses_a_destroyed_workspace() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    ada.client.close().await;
    owner.client.ok("destroy", json!({}), "destroyed").await;
    for token in [&ada.token, &owner.token] {
        assert_eq!(app.re_attend_alert(token).await, "workspace_not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_workspace_is_deleted() {
    let app = spawn_app_with(|c| {
        c.workspace.idle_ttl_secs = 1;
        c.limits.pin_failures = 1000;
    })
    .await;
    // A PIN lets the test look without joining (joining would end the idleness).
    let mut owner = app.create_workspace(Some("idle-pin")).await;
    let (invite, token) = (owner.invite(), owner.token.clone());
    owner.client.close().await;
    let mut probe = app.client().await;
    // Time itself is awaited: the idle TTL, plus a sweep.
    let limit = std::time::Duration::from_secs(20);
    let code = within_for(limit, "the idle workspace to be deleted", async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            let look = json!({"invite": invite, "pin": "not-the-pin"});
            let code = probe.alert("attend", look).await;
            if code != "wrong_pin" {
                break code;
            }
        }
    })
    .await;
    assert_eq!(code, "workspace_not_found");
    assert_eq!(app.re_attend_alert(&token).await, "workspace_not_found");
}
