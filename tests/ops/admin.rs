//! The admin API: off without `ADMIN_TOKEN`, 401 without the token, and each operation
//! as members see it.

use super::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_admin_path_is_404_while_admin_token_is_unset() {
    let app = spawn_app().await;
    for path in ["/admin", "/admin/api/workspaces", "/admin/api/drain"] {
        let (status, _) = answer(request(&app, Method::GET, path, Some(TOKEN))).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = answer(request(&app, Method::POST, "/admin/api/drain", None)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_guessing_is_rate_limited() {
    let app = with_admin(|c| c.limits.admin_requests_per_minute = 3).await;
    let (status, body) = answer(request(&app, Method::GET, "/admin/api/workspaces", None)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let wrong = request(
        &app,
        Method::GET,
        "/admin/api/workspaces",
        Some("operator-token"),
    );
    let response = wrong.send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, _) = admin_get(&app, "/admin/api/workspaces").await;
    assert_eq!(status, 200);
    let (status, body) = admin_get(&app, "/admin/api/workspaces").await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
}

#[tokio::test]
async fn workspaces_are_listed_searched_and_shown_with_their_members() {
    let app = with_admin(|_| {}).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let wid = owner.workspace_id();
    let (status, list) = admin_get(&app, "/admin/api/workspaces").await;
    assert_eq!(status, 200);
    let row = &list["workspaces"][0];
    assert_eq!(row["id"], wid.as_str());
    assert_eq!(
        (row["members"].as_u64(), row["online"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(row["created_at"].as_u64().unwrap() > 1_600_000_000_000);
    let name = row["name"].as_str().unwrap().to_lowercase();

    let (_, found) = admin_get(&app, &format!("/admin/api/workspaces?q={}", &name[..3])).await;
    assert_eq!(found["workspaces"].as_array().unwrap().len(), 1);
    let (_, none) = admin_get(&app, "/admin/api/workspaces?q=no-such-room").await;
    assert_eq!(none["workspaces"], json!([]));

    ada.go_offline_seen_by(&mut owner).await;
    let (status, detail) = admin_get(&app, &format!("/admin/api/workspaces/{wid}")).await;
    assert_eq!(status, 200);
    let members = detail["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["role"], "owner");
    assert_eq!(members[0]["online"], true);
    assert_eq!(members[0]["protocol"], "native");
    assert_eq!(members[1]["id"], ada.id().as_str());
    assert_eq!(
        (members[1]["online"].clone(), members[1]["protocol"].clone()),
        (json!(false), Value::Null)
    );

    let (status, body) = admin_get(&app, "/admin/api/workspaces/nope").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("workspace_not_found"))
    );
}

#[tokio::test]
async fn the_operator_kicks_and_bans_as_the_owner_would() {
    let app = with_admin(|_| {}).await;
    let (mut owner, [mut ada, mut bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;
    let wid = owner.workspace_id();
    let kick = |attendee: String, ban: bool| {
        request(
            &app,
            Method::POST,
            &format!("/admin/api/workspaces/{wid}/kick"),
            Some(TOKEN),
        )
        .json(&json!({"attendee_id": attendee, "ban": ban}))
    };
    let (status, body) = answer(kick(ada.id(), false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"attendee_id": ada.id(), "ban": false}));
    ada.client.expect_push("kicked").await;
    ada.client.expect_close(4003).await;
    let left = owner.client.recv_event("attendee-left").await;
    assert_eq!(left["attendee_id"], ada.id().as_str());
    bob.client.recv_event("attendee-left").await;

    let old_invite = owner.invite();
    let (status, banned) = answer(kick(bob.id(), true)).await;
    assert_eq!(status, 200);
    bob.client.expect_close(4003).await;
    owner.client.recv_event("attendee-left").await;
    let rotated = owner.client.recv_event("invite-rotated").await;
    assert_ne!(rotated["invite"], old_invite.as_str());
    assert_eq!(
        banned["invite"], rotated["invite"],
        "the answer carries the new invite"
    );
    let (_, refused) = app.try_attend(&old_invite, None, "Bob again").await;
    assert_eq!(alert_code(&refused), "invalid_token");

    let (status, body) = answer(kick(owner.id(), false)).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, body) = answer(kick("nobody".into(), false)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("unknown_attendee"))
    );
    let bad = request(
        &app,
        Method::POST,
        &format!("/admin/api/workspaces/{wid}/kick"),
        Some(TOKEN),
    )
    .body("{\"attendee\": 1}");
    let (status, body) = answer(bad).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
}

#[tokio::test]
async fn a_rotated_invite_is_answered_and_pushed_and_the_old_one_dies() {
    let app = with_admin(|_| {}).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let wid = owner.workspace_id();
    let path = format!("/admin/api/workspaces/{wid}/rotate-invite");
    let (status, body) = answer(request(&app, Method::POST, &path, Some(TOKEN))).await;
    assert_eq!(status, 200);
    let invite = body["invite"].as_str().unwrap().to_string();
    for member in [&mut owner, &mut ada] {
        let pushed = member.client.recv_event("invite-rotated").await;
        assert_eq!(pushed["invite"], invite.as_str());
    }
    let (_, refused) = app.try_attend(&owner.invite(), None, "Late").await;
    assert_eq!(alert_code(&refused), "invalid_token");
    app.attend(&invite, None, "Late").await;
}

#[tokio::test]
async fn a_destroyed_workspace_is_gone_for_everyone() {
    let app = with_admin(|_| {}).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let wid = owner.workspace_id();
    let path = format!("/admin/api/workspaces/{wid}");
    let (status, body) = answer(request(&app, Method::DELETE, &path, Some(TOKEN))).await;
    assert_eq!((status, body), (200, json!({"workspace_id": wid})));
    for member in [&mut owner, &mut ada] {
        let pushed = member.client.recv_event("destroyed").await;
        assert_eq!(pushed["workspace_id"], wid.as_str());
    }
    let (status, _) = admin_get(&app, &path).await;
    assert_eq!(status, 404);
    let (_, list) = admin_get(&app, "/admin/api/workspaces").await;
    assert_eq!(list["workspaces"], json!([]));
    assert_eq!(
        owner.client.alert("attendees", json!({})).await,
        "not_attending"
    );
}

#[tokio::test]
async fn peers_of_the_peer_id_endpoints_are_listed_by_protocol() {
    let app = with_admin(|c| {
        c.compat.signal_fire.enabled = true;
        c.compat.peero.enabled = true;
    })
    .await;
    let mut peer = Client::connect(&format!("ws://{}/signal-fire", app.addr)).await;
    let id = peer.recv_frame("the id frame").await["peerId"].clone();
    let (status, body) = admin_get(&app, "/admin/api/peers?protocol=signal_fire").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"peers": [{"protocol": "signal_fire", "id": id}]})
    );
    let (_, peero) = admin_get(&app, "/admin/api/peers?protocol=peero").await;
    assert_eq!(peero, json!({"peers": []}));
    let (_, all) = admin_get(&app, "/admin/api/peers").await;
    assert_eq!(all["peers"].as_array().unwrap().len(), 1);
    let (status, body) = admin_get(&app, "/admin/api/peers?protocol=smtp").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
}
