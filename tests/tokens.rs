//! Forged, tampered and expired tokens: only HS256 with the configured secret, of the
//! right type, within its `exp`, for a membership that still exists, is accepted. The
//! one exception: `re-attend` forgives a lapsed session token within
//! `auth.reattend_grace_secs`, so that nobody is locked out of a membership by time.

mod common;

use common::*;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// base64url of `{"alg":"none","typ":"JWT"}`.
const NONE_HEADER: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn sign(alg: Algorithm, secret: &str, claims: &Value) -> String {
    encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signing a test token")
}

fn session_claims(member: &Member, iat: u64, exp: u64) -> Value {
    json!({
        "typ": "session",
        "wid": member.workspace_id(),
        "sub": member.id(),
        "role": member.attendee["role"],
        "iat": iat,
        "exp": exp,
    })
}

/// A session token for `member`, signed as the server would sign it.
fn session_token(member: &Member, iat: u64, exp: u64) -> String {
    sign(Algorithm::HS256, SECRET, &session_claims(member, iat, exp))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_forged_with_the_right_secret_and_hs256_is_accepted() {
    // The control for every refusal below: the forging itself is sound.
    let app = spawn_app().await;
    let (_owner, [ada]) = app.workspace_with(["Ada"]).await;
    let token = session_token(&ada, now(), now() + 600);
    let (_client, frame) = app.try_re_attend(&token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(frame["data"]["attendee"]["id"], ada.attendee["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_session_tokens_are_invalid() {
    let app = spawn_app().await;
    let (owner, [ada]) = app.workspace_with(["Ada"]).await;
    let claims = session_claims(&ada, now(), now() + 600);
    let payload = ada.token.split('.').nth(1).expect("a JWT has a payload");

    let cases = [
        (
            "another secret",
            sign(
                Algorithm::HS256,
                "another-secret-another-secret-0123",
                &claims,
            ),
        ),
        (
            "HS512 with the right secret",
            sign(Algorithm::HS512, SECRET, &claims),
        ),
        (
            "HS384 with the right secret",
            sign(Algorithm::HS384, SECRET, &claims),
        ),
        ("alg none", format!("{NONE_HEADER}.{payload}.")),
        ("alg none, old signature", {
            let signature = ada.token.rsplit('.').next().expect("signature");
            format!("{NONE_HEADER}.{payload}.{signature}")
        }),
        ("garbage", "garbage".to_string()),
        ("three garbage parts", "abc.def.ghi".to_string()),
        (
            "truncated signature",
            ada.token[..ada.token.len() - 4].to_string(),
        ),
        ("an invite", owner.invite()),
    ];
    for (what, token) in cases {
        let code = app.re_attend_alert(&token).await;
        assert_eq!(code, "invalid_token", "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_payload_does_not_verify() {
    let app = spawn_app().await;
    let (owner, [ada]) = app.workspace_with(["Ada"]).await;
    // Ada's signature over a payload that makes her the owner.
    let parts: Vec<&str> = ada.token.split('.').collect();
    let forged = sign(
        Algorithm::HS256,
        "not-the-secret-not-the-secret-000",
        &json!({"typ": "session", "wid": ada.workspace_id(), "sub": owner.id(),
                "role": "owner", "iat": now(), "exp": now() + 600}),
    );
    let forged_payload = forged.split('.').nth(1).expect("payload");
    let token = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(app.re_attend_alert(&token).await, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_whose_session_lapsed_re_attends_with_it_and_moderates() {
    let app = spawn_app().await;
    let (owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    // The owner's token as it would be a day after it ran out.
    let lapsed = session_token(&owner, now() - 43_200 - 86_400, now() - 86_400);
    drop(owner);
    ada.client.recv_event("attendee-offline").await;

    let (client, frame) = app.try_re_attend(&lapsed).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    let mut owner = Member::new(client, frame["data"].clone());
    assert_eq!(owner.attendee["role"], "owner");
    let exp = claims(&owner.token)["exp"].as_u64().expect("exp");
    assert!(exp > now(), "a fresh token: exp {exp}");
    ada.client.recv_event("attendee-online").await;

    let kick = json!({"attendee_id": ada.id()});
    owner.client.ok("kick", kick, "kicked").await;
    ada.client.expect_close(4003).await;
    owner.client.ok("destroy", json!({}), "destroyed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lapsed_longer_than_the_grace_is_expired_token() {
    let app = spawn_app_with(|c| c.auth.reattend_grace_secs = 3600).await;
    let (_owner, [ada]) = app.workspace_with(["Ada"]).await;
    let beyond = session_token(&ada, now() - 7200, now() - 3700);
    assert_eq!(app.re_attend_alert(&beyond).await, "expired_token");
    let within_grace = session_token(&ada, now() - 7200, now() - 3500);
    let (_client, frame) = app.try_re_attend(&within_grace).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_grace_a_lapsed_session_is_expired_token() {
    let app = spawn_app_with(|c| c.auth.reattend_grace_secs = 0).await;
    let (owner, [_ada]) = app.workspace_with(["Ada"]).await;
    let token = session_token(&owner, now() - 7200, now() - 1);
    assert_eq!(app.re_attend_alert(&token).await, "expired_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_session_of_a_gone_membership_is_expired_token() {
    let app = spawn_app().await;
    let (mut owner, [ada]) = app.workspace_with(["Ada"]).await;
    let kick = json!({"attendee_id": ada.id()});
    owner.client.ok("kick", kick, "kicked").await;
    let lapsed = session_token(&ada, now() - 7200, now() - 3600);
    assert_eq!(
        app.re_attend_alert(&lapsed).await,
        "expired_token",
        "kicked"
    );
    let current = session_token(&ada, now(), now() + 600);
    assert_eq!(
        app.re_attend_alert(&current).await,
        "invalid_token",
        "kicked"
    );

    owner.client.ok("destroy", json!({}), "destroyed").await;
    let lapsed = session_token(&owner, now() - 7200, now() - 3600);
    let code = app.re_attend_alert(&lapsed).await;
    assert_eq!(code, "expired_token", "destroyed");
    let current = session_token(&owner, now(), now() + 600);
    let code = app.re_attend_alert(&current).await;
    assert_eq!(code, "workspace_not_found", "destroyed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grace_is_only_for_lapsed_tokens_that_verify() {
    let app = spawn_app().await;
    let (_owner, [ada]) = app.workspace_with(["Ada"]).await;
    let claims = session_claims(&ada, now() - 7200, now() - 3600);
    let mut invite_typed = claims.clone();
    invite_typed["typ"] = json!("invite");
    let cases = [
        (
            "another secret",
            sign(
                Algorithm::HS256,
                "another-secret-another-secret-0123",
                &claims,
            ),
        ),
        ("HS512", sign(Algorithm::HS512, SECRET, &claims)),
        ("typ invite", sign(Algorithm::HS256, SECRET, &invite_typed)),
    ];
    for (what, token) in cases {
        let code = app.re_attend_alert(&token).await;
        assert_eq!(code, "invalid_token", "{what}");
    }
}

/// Asks `attendees` on `member`'s bound socket until the answer is no longer the list:
/// the first answer after its session token's `exp`, at most about two seconds away.
async fn first_answer_after_expiry(member: &mut Member) -> Value {
    let exp = claims(&member.token)["exp"].as_u64().expect("exp");
    assert!(exp <= now() + 2, "the session is short: exp {exp}");
    within("the session to expire", async {
        loop {
            let frame = member.client.request("attendees", json!({})).await;
            if frame["event"] != "attendees" {
                return frame;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_whose_session_expired_is_unbound_and_may_re_attend() {
    let app = spawn_app_with(|c| c.auth.session_ttl_secs = 1).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let frame = first_answer_after_expiry(&mut owner).await;
    assert_eq!(alert_code(&frame), "expired_token");
    let offline = ada.client.recv_event("attendee-offline").await;
    assert_eq!(offline, json!({"attendee_id": owner.id()}));
    let code = owner.client.alert("attendees", json!({})).await;
    assert_eq!(code, "not_attending", "unbound by the expired_token");

    let again = json!({"token": owner.token});
    let reply = owner.client.ok("re-attend", again, "re-attended").await;
    assert_eq!(reply["attendee"]["id"], json!(owner.id()));
    assert_eq!(reply["attendee"]["online"], true);
    let online = ada.client.recv_event("attendee-online").await;
    assert_eq!(online, json!({"attendee_id": owner.id()}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_attend_on_a_socket_whose_session_expired_needs_no_member_event_first() {
    let app = spawn_app_with(|c| c.auth.session_ttl_secs = 1).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let exp = claims(&owner.token)["exp"].as_u64().expect("exp");
    // Time itself is what this test waits for: the second after `exp`, at most ~2 s.
    let past_exp = UNIX_EPOCH + Duration::from_secs(exp + 1);
    let wait = past_exp
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    tokio::time::sleep(wait + Duration::from_millis(50)).await;

    let again = json!({"token": owner.token});
    owner.client.ok("re-attend", again, "re-attended").await;
    let offline = ada.client.recv_event("attendee-offline").await;
    assert_eq!(offline, json!({"attendee_id": owner.id()}));
    let online = ada.client.recv_event("attendee-online").await;
    assert_eq!(online, json!({"attendee_id": owner.id()}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_invites_are_invalid_and_valid_ones_need_a_workspace() {
    let app = spawn_app().await;
    let owner = app.create_workspace(None).await;
    let wid = owner.workspace_id();
    let invite = json!({"typ": "invite", "wid": wid, "iat": now()});
    let mut client = app.client().await;

    let cases = [
        sign(
            Algorithm::HS256,
            "another-secret-another-secret-0123",
            &invite,
        ),
        sign(Algorithm::HS512, SECRET, &invite),
        format!(
            "{NONE_HEADER}.{}.",
            owner.invite().split('.').nth(1).expect("payload")
        ),
        owner.token.clone(),
    ];
    for token in cases {
        let code = client.alert("attend", json!({ "invite": token })).await;
        assert_eq!(code, "invalid_token", "invite {token}");
    }
    let expired = json!({"typ": "invite", "wid": wid, "iat": now() - 7200, "exp": now() - 3600});
    let token = sign(Algorithm::HS256, SECRET, &expired);
    let code = client.alert("attend", json!({ "invite": token })).await;
    assert_eq!(code, "expired_token");

    let elsewhere = json!({"typ": "invite", "wid": "_nowhere000", "iat": now()});
    let token = sign(Algorithm::HS256, SECRET, &elsewhere);
    let code = client.alert("attend", json!({ "invite": token })).await;
    assert_eq!(code, "workspace_not_found");

    // A correctly forged invite works: the refusals above are about the forgery.
    let token = sign(Algorithm::HS256, SECRET, &invite);
    client
        .ok("attend", json!({ "invite": token }), "attended")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_never_carry_the_pin() {
    let app = spawn_app().await;
    let owner = app.create_workspace(Some("SecretPin9")).await;
    assert!(
        !owner.reply.to_string().contains("SecretPin9"),
        "{}",
        owner.reply
    );
    for token in [owner.invite(), owner.token.clone()] {
        let text = claims(&token).to_string();
        assert!(!text.contains("SecretPin9"), "{text}");
        assert!(!text.contains("pin"), "{text}");
    }
    let invite = claims(&owner.invite());
    assert_eq!(invite["typ"], "invite");
    assert_eq!(invite["wid"], owner.workspace["id"]);
    assert!(
        invite.get("exp").is_none(),
        "no exp without invite_ttl_secs: {invite}"
    );
}
