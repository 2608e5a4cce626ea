//! Forged, tampered and expired tokens: only HS256 with the configured secret, of the
//! right type, within its `exp`, for a membership that still exists, is accepted.

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
async fn an_expired_session_token_is_expired_token() {
    let app = spawn_app().await;
    let (_owner, [ada]) = app.workspace_with(["Ada"]).await;
    let token = session_token(&ada, now() - 7200, now() - 3600);
    assert_eq!(app.re_attend_alert(&token).await, "expired_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_expiring_while_bound_is_refused() {
    let app = spawn_app_with(|c| c.auth.session_ttl_secs = 1).await;
    let mut owner = app.create_workspace(None).await;
    let exp = claims(&owner.token)["exp"].as_u64().expect("exp");
    // Time itself is what this test waits for: until the second after `exp`.
    let past_exp = UNIX_EPOCH + Duration::from_secs(exp + 1);
    let wait = past_exp
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    assert!(
        wait <= Duration::from_secs(3),
        "exp is one second after iat"
    );
    tokio::time::sleep(wait + Duration::from_millis(50)).await;
    let code = owner.client.alert("attendees", json!({})).await;
    assert_eq!(code, "expired_token");
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
