//! PIN-protected workspaces: the PIN is checked, and guessing it is limited per
//! workspace and client IP.

mod common;

use common::*;
use serde_json::json;

const PIN: &str = "4711-pin";

/// A workspace protected by [`PIN`], its invite, and a stranger's connection to
/// attend (or guess) with.
async fn protected_workspace(app: &TestApp) -> (Member, String, Client) {
    let owner = app.create_workspace(Some(PIN)).await;
    let invite = owner.invite();
    (owner, invite, app.client().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_workspace_wants_the_right_pin() {
    let app = spawn_app().await;
    let (owner, invite, mut client) = protected_workspace(&app).await;
    assert_eq!(owner.workspace["protected"], true);

    let missing = json!({ "invite": invite });
    assert_eq!(client.alert("attend", missing).await, "wrong_pin");
    let empty = json!({ "invite": invite, "pin": "" });
    assert_eq!(client.alert("attend", empty).await, "wrong_pin");
    let wrong = json!({ "invite": invite, "pin": "4711-PIN" });
    assert_eq!(client.alert("attend", wrong).await, "wrong_pin");
    // PINs are not trimmed: what the owner typed is the PIN.
    let padded = json!({ "invite": invite, "pin": format!(" {PIN}") });
    assert_eq!(client.alert("attend", padded).await, "wrong_pin");

    let right = json!({ "invite": invite, "pin": PIN, "name": "Ada" });
    let reply = client.ok("attend", right, "attended").await;
    assert_eq!(reply["workspace"]["protected"], true);
    assert!(
        !reply.to_string().contains(PIN),
        "the PIN is never sent back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprotected_workspace_ignores_a_pin() {
    let app = spawn_app().await;
    let owner = app.create_workspace(None).await;
    app.attend(&owner.invite(), Some("whatever"), "Ada").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_wrong_pins_lock_out_even_the_right_one() {
    let app = spawn_app().await;
    let (_owner, invite, mut client) = protected_workspace(&app).await;
    for guess in 0..5 {
        let data = json!({ "invite": invite, "pin": format!("guess-{guess}") });
        assert_eq!(
            client.alert("attend", data).await,
            "wrong_pin",
            "guess {guess}"
        );
    }
    let right = json!({ "invite": invite, "pin": PIN });
    assert_eq!(client.alert("attend", right.clone()).await, "rate_limited");
    // A new connection from the same IP is just as locked out.
    let (_other, frame) = app.try_attend(&invite, Some(PIN), "Ada").await;
    assert_eq!(alert_code(&frame), "rate_limited");

    // Other workspaces are not affected.
    let elsewhere = app.create_workspace(Some(PIN)).await;
    app.attend(&elsewhere.invite(), Some(PIN), "Ada").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pins_do_not_count_towards_the_lockout() {
    let app = spawn_app().await;
    let (_owner, invite, mut client) = protected_workspace(&app).await;
    for _ in 0..8 {
        let missing = json!({ "invite": invite });
        assert_eq!(client.alert("attend", missing).await, "wrong_pin");
    }
    for guess in 0..4 {
        let data = json!({ "invite": invite, "pin": format!("guess-{guess}") });
        assert_eq!(client.alert("attend", data).await, "wrong_pin");
    }
    let right = json!({ "invite": invite, "pin": PIN });
    client.ok("attend", right, "attended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_follows_the_configured_limit() {
    let app = spawn_app_with(|c| c.limits.pin_failures = 2).await;
    let (_owner, invite, mut client) = protected_workspace(&app).await;
    let wrong = json!({ "invite": invite, "pin": "nope-nope" });
    assert_eq!(client.alert("attend", wrong.clone()).await, "wrong_pin");
    assert_eq!(client.alert("attend", wrong.clone()).await, "wrong_pin");
    assert_eq!(client.alert("attend", wrong).await, "rate_limited");
    let right = json!({ "invite": invite, "pin": PIN });
    assert_eq!(client.alert("attend", right).await, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lockout_ends_with_its_window() {
    let app = spawn_app_with(|c| {
        c.limits.pin_failures = 1;
        c.limits.pin_window_secs = 1;
    })
    .await;
    let (_owner, invite, mut client) = protected_workspace(&app).await;
    let wrong = json!({ "invite": invite, "pin": "nope-nope" });
    assert_eq!(client.alert("attend", wrong).await, "wrong_pin");
    let right = json!({ "invite": invite, "pin": PIN });
    assert_eq!(client.alert("attend", right.clone()).await, "rate_limited");
    // Time is what this waits for: one window.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    client.ok("attend", right, "attended").await;
}
