//! The owner's powers: `kick` one member, `destroy` the whole workspace, replace the
//! invite with `rotate-invite`, change the PIN with `set-pin`. Bans are in `bans.rs`.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_closes_the_target_with_4003_and_tells_the_others() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.workspace_with(["Ada", "Bob"]).await;
    let ada_id = ada.id();

    let reply = owner
        .client
        .ok("kick", json!({ "attendee_id": ada_id }), "kicked")
        .await;
    assert_eq!(reply, json!({ "attendee_id": ada_id }));
    assert_eq!(
        ada.client.expect_push("kicked").await,
        json!({ "attendee_id": ada_id })
    );
    ada.client.expect_close(4003).await;
    let left = bob.client.recv_event("attendee-left").await;
    assert_eq!(left, json!({"attendee_id": ada_id, "reason": "kicked"}));

    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), bob.id()]);
    // The kicked session is worthless now.
    assert_eq!(app.re_attend_alert(&ada.token).await, "invalid_token");
    // Relaying to Ada is refused as to a non-member.
    let data = json!({"to": ada_id, "candidate": {}});
    assert_eq!(
        bob.client.alert("icecandidate", data).await,
        "unknown_attendee"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_member_can_be_kicked() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    ada.go_offline_seen_by(&mut owner).await;
    let kick = json!({ "attendee_id": ada.id() });
    owner.client.ok("kick", kick, "kicked").await;
    assert_eq!(app.re_attend_alert(&ada.token).await, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_refuses_the_owner_and_strangers() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let other = app.create_workspace(None).await;
    let ada = app.attend(&owner.invite(), None, "Ada").await;
    let myself = json!({ "attendee_id": owner.id() });
    assert_eq!(owner.client.alert("kick", myself).await, "forbidden");
    let stranger = json!({ "attendee_id": other.id() });
    assert_eq!(
        owner.client.alert("kick", stranger).await,
        "unknown_attendee"
    );
    let nobody = json!({"attendee_id": "_nobody0000"});
    assert_eq!(owner.client.alert("kick", nobody).await, "unknown_attendee");
    assert_eq!(owner.client.alert("kick", json!({})).await, "bad_request");
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroy_tells_everyone_and_unbinds_their_sockets() {
    let app = spawn_app().await;
    let (mut owner, [mut ada, mut bob]) = app.workspace_with(["Ada", "Bob"]).await;
    let wid = owner.workspace_id();
    let invite = owner.invite();
    let bob_token = bob.token.clone();
    bob.client.close().await;

    let reply = owner.client.ok("destroy", json!({}), "destroyed").await;
    assert_eq!(reply, json!({ "workspace_id": wid }));
    let pushed = ada.client.expect_push("destroyed").await;
    assert_eq!(pushed, json!({ "workspace_id": wid }));

    // Both sockets stay open but are no longer members of anything.
    assert_eq!(
        ada.client.alert("attendees", json!({})).await,
        "not_attending"
    );
    assert_eq!(
        owner.client.alert("attendees", json!({})).await,
        "not_attending"
    );
    let ring = json!({"to": owner.id(), "call": "c", "sdp": "o"});
    assert_eq!(ada.client.alert("ring", ring).await, "not_attending");

    // The workspace is gone for every way in.
    let code = ada
        .client
        .alert("attend", json!({ "invite": invite }))
        .await;
    assert_eq!(code, "workspace_not_found");
    for token in [&bob_token, &ada.token, &owner.token] {
        assert_eq!(app.re_attend_alert(token).await, "workspace_not_found");
    }

    // The same sockets can start over.
    let created = ada
        .client
        .ok("create", json!({"name": "Next"}), "created")
        .await;
    let next_invite = str_of(&created["workspace"]["invite"]);
    owner
        .client
        .ok("attend", json!({ "invite": next_invite }), "attended")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_invite_retires_every_earlier_invite_and_tells_the_members() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let old = owner.invite();
    assert_eq!(
        claims(&old)["ver"],
        0,
        "a new workspace's invites are version 0"
    );

    let rotated = owner
        .client
        .ok("rotate-invite", json!({}), "invite-rotated")
        .await;
    let invite = str_of(&rotated["invite"]);
    assert_eq!(claims(&invite)["ver"], 1);
    assert_eq!(claims(&invite)["wid"], owner.workspace["id"]);
    assert_eq!(ada.client.recv_event("invite-rotated").await, rotated);

    let (_client, frame) = app.try_attend(&old, None, "Late").await;
    assert_eq!(alert_code(&frame), "invalid_token", "the old invite");
    let bob = app.attend(&invite, None, "Bob").await;
    assert_eq!(
        bob.workspace["invite"],
        json!(invite),
        "attended hands out the current one"
    );
    let (_client, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(
        frame["data"]["workspace"]["invite"],
        json!(invite),
        "so does re-attended"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_pin_protects_changes_and_removes_the_pin_for_newcomers() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let invite = owner.invite();
    let set = json!({"pin": "2468"});
    let reply = owner.client.ok("set-pin", set, "pin-set").await;
    assert_eq!(reply, json!({"protected": true}));
    let (_client, frame) = app.try_attend(&invite, None, "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin", "a PIN is needed now");
    let ada = app.attend(&invite, Some("2468"), "Ada").await;
    assert_eq!(ada.workspace["protected"], true);

    owner
        .client
        .ok("set-pin", json!({"pin": "9753"}), "pin-set")
        .await;
    let (_client, frame) = app.try_attend(&invite, Some("2468"), "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin", "the replaced PIN");
    app.attend(&invite, Some("9753"), "Bob").await;

    let reply = owner
        .client
        .ok("set-pin", json!({"pin": null}), "pin-set")
        .await;
    assert_eq!(reply, json!({"protected": false}));
    let carol = app.attend(&invite, None, "Carol").await;
    assert_eq!(carol.workspace["protected"], false);
    // Members let in under an earlier PIN stay.
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed).len(), 4, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_pin_keeps_the_rules_of_create() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(Some("2468")).await;
    let cases = [
        (json!({}), "bad_request"),
        (json!({"pin": 2468}), "bad_request"),
        (json!({"pin": "123"}), "bad_request"),
        (json!({"pin": "12\n45"}), "bad_request"),
        (json!({"pin": "9".repeat(65)}), "too_large"),
    ];
    for (data, code) in cases {
        assert_eq!(
            owner.client.alert("set-pin", data.clone()).await,
            code,
            "{data}"
        );
    }
    // Refusals changed nothing; an empty PIN, as at create, means none.
    let (_client, frame) = app.try_attend(&owner.invite(), None, "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin");
    let reply = owner
        .client
        .ok("set-pin", json!({"pin": ""}), "pin-set")
        .await;
    assert_eq!(reply, json!({"protected": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_moderates() {
    let app = spawn_app().await;
    let (owner, [mut ada, bob]) = app.workspace_with(["Ada", "Bob"]).await;
    let cases = [
        ("rotate-invite", json!({})),
        ("set-pin", json!({"pin": "2468"})),
        ("set-pin", json!({"pin": null})),
        ("kick", json!({"attendee_id": bob.id(), "ban": true})),
        ("kick", json!({"attendee_id": bob.id()})),
    ];
    for (event, data) in cases {
        assert_eq!(
            ada.client.alert(event, data.clone()).await,
            "forbidden",
            "{event} {data}"
        );
    }
    // Nothing changed: the invite still admits without a PIN, and Bob is still in.
    let carol = app.attend(&owner.invite(), None, "Carol").await;
    assert_eq!(carol.workspace["protected"], false);
    assert!(ids_of(&carol.reply["attendees"]).contains(&bob.id()));
}
