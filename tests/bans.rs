//! `kick {ban: true}`: the kicked member's address (IPv6 by its /64) is refused at
//! `attend` for `workspace.ban_secs`, and the invite is rotated so that the link the
//! kicked member holds is worthless to anyone. Bans, like the owner's other changes,
//! survive a restart.

mod common;

use common::store::durable;
use common::*;
use serde_json::{json, Value};

/// The kicked member's address.
const BANNED: u8 = 7;
/// Another client's address.
const ELSEWHERE: u8 = 8;

/// A member that attended from 127.0.0.`from`.
async fn member_from(app: &TestApp, from: u8, invite: &str, pin: Option<&str>) -> Member {
    let mut client = app.client_from(from).await;
    let data = attend_data(invite, pin, "Someone");
    let reply = client.ok("attend", data, "attended").await;
    Member::new(client, reply)
}

/// Attends from 127.0.0.`from`; returns the whole reply frame.
async fn attend_from(app: &TestApp, from: u8, invite: &str, pin: Option<&str>) -> Value {
    let mut client = app.client_from(from).await;
    client
        .request("attend", attend_data(invite, pin, "Someone"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_refuses_the_kicked_address_even_with_the_new_invite() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let old = owner.invite();
    let mut ada = member_from(&app, BANNED, &old, None).await;
    let mut bob = app.attend(&old, None, "Bob").await;
    owner.client.recv_event("attendee-joined").await;
    owner.client.recv_event("attendee-joined").await;
    ada.client.recv_event("attendee-joined").await;

    let kick = json!({"attendee_id": ada.id(), "ban": true});
    let reply = owner.client.ok("kick", kick, "kicked").await;
    assert_eq!(reply, json!({"attendee_id": ada.id()}));
    assert_eq!(ada.client.expect_push("kicked").await, reply);
    ada.client.expect_close(4003).await;
    let left = bob.client.recv_event("attendee-left").await;
    assert_eq!(left, json!({"attendee_id": ada.id(), "reason": "kicked"}));
    let rotated = bob.client.recv_event("invite-rotated").await;
    assert_eq!(owner.client.recv_event("invite-rotated").await, rotated);
    let invite = str_of(&rotated["invite"]);
    assert_eq!(claims(&invite)["ver"], 1);

    let frame = attend_from(&app, BANNED, &invite, None).await;
    assert_eq!(
        alert_code(&frame),
        "forbidden",
        "the banned address, new invite"
    );
    let frame = attend_from(&app, BANNED, &old, None).await;
    assert_eq!(
        alert_code(&frame),
        "invalid_token",
        "the banned address, old invite"
    );
    let frame = attend_from(&app, ELSEWHERE, &old, None).await;
    assert_eq!(
        alert_code(&frame),
        "invalid_token",
        "another address, old invite"
    );
    let frame = attend_from(&app, ELSEWHERE, &invite, None).await;
    assert_eq!(
        frame["event"], "attended",
        "another address, new invite: {frame}"
    );
    assert_eq!(app.re_attend_alert(&ada.token).await, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_member_is_banned_by_the_address_it_last_connected_from() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let mut ada = member_from(&app, BANNED, &owner.invite(), None).await;
    owner.client.recv_event("attendee-joined").await;
    ada.go_offline_seen_by(&mut owner).await;

    let kick = json!({"attendee_id": ada.id(), "ban": true});
    owner.client.ok("kick", kick, "kicked").await;
    let invite = str_of(&owner.client.recv_event("invite-rotated").await["invite"]);
    let frame = attend_from(&app, BANNED, &invite, None).await;
    assert_eq!(alert_code(&frame), "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_runs_out_after_ban_secs() {
    let clock = Clock::system();
    let app = spawn_app_with_clock(clock.clone(), |_| {}).await;
    let (mut owner, [ada]) = app.acquainted_workspace(["Ada"]).await;
    let kick = json!({"attendee_id": ada.id(), "ban": true});
    owner.client.ok("kick", kick, "kicked").await;
    let invite = str_of(&owner.client.expect_push("invite-rotated").await["invite"]);
    let frame = app.try_attend(&invite, None, "Ada again").await.1;
    assert_eq!(alert_code(&frame), "forbidden");
    // The default ban (an hour) passes at once.
    clock.advance(std::time::Duration::from_secs(
        app.config.workspace.ban_secs,
    ));
    let frame = app.try_attend(&invite, None, "Ada again").await.1;
    assert_eq!(frame["event"], "attended", "{frame}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_without_ban_keeps_the_invite() {
    let app = spawn_app().await;
    let (mut owner, [ada]) = app.acquainted_workspace(["Ada"]).await;
    let kick = json!({"attendee_id": ada.id(), "ban": false});
    owner.client.ok("kick", kick, "kicked").await;
    let again = app.attend(&owner.invite(), None, "Ada again").await;
    assert_eq!(claims(&again.invite())["ver"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bans_a_rotated_invite_and_a_new_pin_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = spawn_app_in(dir.path(), durable).await;
    let mut owner = app.create_workspace(None).await;
    let (old, token) = (owner.invite(), owner.token.clone());
    let ada = member_from(&app, BANNED, &old, None).await;
    let bob = member_from(&app, 9, &old, None).await;
    let pin = json!({"pin": "2468"});
    owner.client.ok("set-pin", pin, "pin-set").await;
    let kick = json!({"attendee_id": ada.id(), "ban": true});
    owner.client.ok("kick", kick, "kicked").await;
    let invite = str_of(&owner.client.expect_push("invite-rotated").await["invite"]);
    let bob_id = bob.id();
    drop((owner, ada, bob));
    app.stop().await;

    let app = spawn_app_in(dir.path(), durable).await;
    let refused = [
        (
            BANNED,
            &invite,
            Some("2468"),
            "forbidden",
            "the banned address",
        ),
        (
            ELSEWHERE,
            &old,
            Some("2468"),
            "invalid_token",
            "the old invite",
        ),
        (ELSEWHERE, &invite, None, "wrong_pin", "no PIN"),
    ];
    for (from, invite, pin, code, what) in refused {
        let frame = attend_from(&app, from, invite, pin).await;
        assert_eq!(frame["data"]["code"], code, "{what}: {frame}");
    }
    member_from(&app, ELSEWHERE, &invite, Some("2468")).await;
    // Bob is offline: his ban goes by the address stored for him.
    let (client, frame) = app.try_re_attend(&token).await;
    let mut owner = Member::new(client, frame["data"].clone());
    let kick = json!({"attendee_id": bob_id, "ban": true});
    owner.client.ok("kick", kick, "kicked").await;
    let newest = str_of(&owner.client.expect_push("invite-rotated").await["invite"]);
    let frame = attend_from(&app, 9, &newest, Some("2468")).await;
    assert_eq!(frame["data"]["code"], "forbidden", "Bob's address: {frame}");
}
