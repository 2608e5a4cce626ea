//! Creating and attending workspaces: the objects in the replies, the defaults, and
//! every error a stranger can provoke on the way in.

mod common;

use common::*;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_replies_with_the_workspace_its_owner_and_a_session() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let before = now_ms();
    let data = json!({"name": "  Standup  ", "attendee_name": " Ada ", "id": "_chosen0000"});
    let reply = client.ok("create", data, "created").await;
    let after = now_ms();

    let ws = &reply["workspace"];
    let owner = &reply["attendee"];
    assert_id(&ws["id"]);
    assert_ne!(ws["id"], "_chosen0000", "a client-proposed id is ignored");
    assert_eq!(ws["name"], "Standup", "names are trimmed");
    assert_eq!(ws["owner"], owner["id"]);
    assert_eq!(ws["protected"], false);
    assert_eq!(ws["capacity"], 5);
    let created_at = ws["created_at"].as_u64().expect("created_at in ms");
    assert!(
        (before.saturating_sub(1000)..=after + 1000).contains(&created_at),
        "created_at {created_at} is now, in milliseconds"
    );
    assert!(ws["invite"].is_string());

    assert_id(&owner["id"]);
    assert_eq!(owner["name"], "Ada");
    assert_eq!(owner["role"], "owner");
    assert_eq!(owner["online"], true);
    assert!(owner["mic"].is_null() && owner["cam"].is_null(), "{owner}");

    let session = claims(&str_of(&reply["token"]));
    assert_eq!(session["typ"], "session");
    assert_eq!(session["wid"], ws["id"]);
    assert_eq!(session["sub"], owner["id"]);
    assert_eq!(session["role"], "owner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blank_or_absent_names_take_the_configured_defaults() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let reply = client
        .ok("create", json!({"name": "   ", "pin": ""}), "created")
        .await;
    assert_eq!(reply["workspace"]["name"], "Untitled Workspace");
    assert_eq!(reply["attendee"]["name"], "Anonymous");
    assert_eq!(
        reply["workspace"]["protected"], false,
        "an empty PIN is no PIN"
    );

    let invite = str_of(&reply["workspace"]["invite"]);
    let mut guest = app.client().await;
    let attended = guest
        .ok("attend", json!({ "invite": invite }), "attended")
        .await;
    assert_eq!(attended["attendee"]["name"], "Anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_defaults_are_used() {
    let app = spawn_app_with(|c| {
        c.workspace.untitled = "Room".into();
        c.workspace.anonymous_attendee = "Guest".into();
        c.workspace.max_capacity = 3;
    })
    .await;
    let mut client = app.client().await;
    let reply = client.ok("create", json!({}), "created").await;
    assert_eq!(reply["workspace"]["name"], "Room");
    assert_eq!(reply["attendee"]["name"], "Guest");
    assert_eq!(reply["workspace"]["capacity"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_rejects_bad_names_and_pins() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let long = "x".repeat(65);
    let cases = [
        (json!({"pin": "123"}), "bad_request"),
        (json!({"pin": "1"}), "bad_request"),
        (json!({ "pin": "9".repeat(65) }), "too_large"),
        (json!({ "name": long }), "too_large"),
        (json!({ "attendee_name": long }), "too_large"),
        (json!({"name": "bell\u{7}"}), "bad_request"),
        (json!({"attendee_name": "new\nline"}), "bad_request"),
        (json!({"name": 5}), "bad_request"),
        (json!({"pin": 12345}), "bad_request"),
    ];
    for (data, code) in cases {
        assert_eq!(
            client.alert("create", data.clone()).await,
            code,
            "create {data}"
        );
    }
    // None of those changed anything: the same socket can still create.
    let reply = client
        .ok(
            "create",
            json!({ "name": "x".repeat(64), "pin": "1234" }),
            "created",
        )
        .await;
    assert_eq!(reply["workspace"]["protected"], true);
    assert_eq!(
        reply["workspace"]["name"]
            .as_str()
            .map(|n| n.chars().count()),
        Some(64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_names_is_kept_as_text() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let name = "<script>alert(1)</script>";
    let reply = client
        .ok(
            "create",
            json!({ "name": name, "attendee_name": "Ünïcødé 🎉" }),
            "created",
        )
        .await;
    assert_eq!(reply["workspace"]["name"], name);
    assert_eq!(reply["attendee"]["name"], "Ünïcødé 🎉");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attend_lists_everyone_in_join_order_and_tells_the_others() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let ada = app.attend(&owner.invite(), None, "Ada").await;

    let joined = owner.client.recv_event("attendee-joined").await;
    assert_eq!(joined["attendee"], ada.attendee);
    assert_eq!(ada.attendee["name"], "Ada");
    assert_eq!(ada.attendee["role"], "attendee");
    assert_eq!(ada.attendee["online"], true);
    assert_id(&ada.attendee["id"]);
    assert_eq!(ada.workspace["id"], owner.workspace["id"]);
    assert_eq!(ada.workspace["owner"], owner.attendee["id"]);
    assert!(ada.reply["call"].is_null(), "no call yet: {}", ada.reply);
    assert_eq!(ids_of(&ada.reply["attendees"]), vec![owner.id(), ada.id()]);

    let mut bob = app.attend(&owner.invite(), None, "Bob").await;
    assert_eq!(
        ids_of(&bob.reply["attendees"]),
        vec![owner.id(), ada.id(), bob.id()]
    );
    let listed = bob.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id(), bob.id()]);
    assert_eq!(find(&listed, &ada.id())["name"], "Ada");
    assert_eq!(find(&listed, &owner.id())["role"], "owner");

    let session = claims(&bob.token);
    assert_eq!(session["role"], "attendee");
    assert_eq!(session["sub"], bob.attendee["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attend_refuses_bad_invites() {
    let app = spawn_app().await;
    let owner = app.create_workspace(None).await;
    let mut client = app.client().await;
    for invite in ["garbage", "a.b.c"] {
        let code = client.alert("attend", json!({ "invite": invite })).await;
        assert_eq!(code, "invalid_token", "invite {invite:?}");
    }
    // A session token is not an invite.
    let code = client
        .alert("attend", json!({ "invite": owner.token }))
        .await;
    assert_eq!(code, "invalid_token");
    assert_eq!(client.alert("attend", json!({})).await, "bad_request");
    assert_eq!(
        client.alert("attend", json!({"invite": 7})).await,
        "bad_request"
    );
    // After all that, the same socket attends normally.
    client
        .ok("attend", json!({ "invite": owner.invite() }), "attended")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attend_rejects_bad_names() {
    let app = spawn_app().await;
    let owner = app.create_workspace(None).await;
    let mut client = app.client().await;
    let invite = owner.invite();
    let long = json!({ "invite": invite, "name": "n".repeat(65) });
    assert_eq!(client.alert("attend", long).await, "too_large");
    let control = json!({ "invite": invite, "name": "tab\there" });
    assert_eq!(client.alert("attend", control).await, "bad_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_connection_cannot_create_or_attend_again() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let invite = owner.invite();
    let code = owner.client.alert("create", json!({})).await;
    assert_eq!(code, "already_attending");
    let code = owner
        .client
        .alert("attend", json!({ "invite": invite }))
        .await;
    assert_eq!(code, "already_attending");

    let mut ada = app.attend(&invite, None, "Ada").await;
    let code = ada
        .client
        .alert("attend", json!({ "invite": invite }))
        .await;
    assert_eq!(code, "already_attending");
    let token = ada.token.clone();
    let code = ada
        .client
        .alert("re-attend", json!({ "token": token }))
        .await;
    assert_eq!(code, "already_attending");
    // Still exactly two members.
    let listed = owner.list_attendees().await;
    assert_eq!(ids_of(&listed), vec![owner.id(), ada.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attending_a_destroyed_workspace_is_workspace_not_found() {
    let app = spawn_app().await;
    let mut owner = app.create_workspace(None).await;
    let invite = owner.invite();
    owner.client.ok("destroy", json!({}), "destroyed").await;
    let (_client, frame) = app.try_attend(&invite, None, "Late").await;
    assert_eq!(alert_code(&frame), "workspace_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_expire_when_configured() {
    let app = spawn_app_with(|c| c.workspace.invite_ttl_secs = 600).await;
    let owner = app.create_workspace(None).await;
    let invite = claims(&owner.invite());
    assert_eq!(invite["typ"], "invite");
    assert_eq!(invite["wid"], owner.workspace["id"]);
    let iat = invite["iat"].as_u64().expect("iat");
    assert_eq!(invite["exp"].as_u64(), Some(iat + 600));
    app.attend(&owner.invite(), None, "Ada").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_and_pin_limits_count_characters_not_bytes() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let name = "é".repeat(64);
    let pin = "ü".repeat(64);
    let data = json!({"name": name, "attendee_name": "🎉".repeat(64), "pin": pin});
    let reply = client.ok("create", data, "created").await;
    assert_eq!(reply["workspace"]["name"], json!(name));
    assert_eq!(reply["workspace"]["protected"], true);
    let invite = str_of(&reply["workspace"]["invite"]);
    app.attend(&invite, Some(&pin), &"ß".repeat(64)).await;
    let (_client, frame) = app.try_attend(&invite, Some(&pin), &"ß".repeat(65)).await;
    assert_eq!(alert_code(&frame), "too_large");
}
