//! `switchboard admin ...` against a running server: the same operations as the API,
//! its answers printed as JSON, its refusals a failed exit with the code.

use super::*;
use std::process::Output;

/// Runs `switchboard admin --url <app> ARGS` with `token` as ADMIN_TOKEN.
async fn admin(app: &TestApp, token: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec!["admin", "--url", &app.http_url];
    all.extend_from_slice(args);
    bin::output_of(bin::switchboard(
        dir.path(),
        &all,
        &[("ADMIN_TOKEN", token)],
    ))
    .await
}

/// The JSON a successful command printed.
fn printed(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "the command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_shows_kicks_rotates_and_destroys() {
    let app = with_admin(|_| {}).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let wid = owner.workspace_id();

    let list = printed(&admin(&app, TOKEN, &["workspaces"]).await);
    assert_eq!(list["workspaces"][0]["id"], wid.as_str());
    let shown = printed(&admin(&app, TOKEN, &["workspace", &wid]).await);
    assert_eq!(shown["members"][1]["name"], "Ada");

    let kicked = printed(&admin(&app, TOKEN, &["kick", &wid, &ada.id(), "--ban"]).await);
    assert_eq!(kicked["ban"], true);
    ada.client.expect_close(4003).await;
    owner.client.recv_event("attendee-left").await;
    let after_ban = owner.client.recv_event("invite-rotated").await;

    let rotated = printed(&admin(&app, TOKEN, &["rotate-invite", &wid]).await);
    assert_ne!(rotated["invite"], after_ban["invite"]);
    let pushed = owner.client.recv_event("invite-rotated").await;
    assert_eq!(pushed["invite"], rotated["invite"]);

    printed(&admin(&app, TOKEN, &["destroy", &wid]).await);
    owner.client.recv_event("destroyed").await;
    let gone = admin(&app, TOKEN, &["workspace", &wid]).await;
    let stderr = bin::failure(&gone);
    assert!(stderr.contains("workspace_not_found"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_fails_with_the_servers_reason() {
    let app = with_admin(|_| {}).await;
    let output = admin(&app, "not-the-token", &["stats"]).await;
    let stderr = bin::failure(&output);
    assert!(
        stderr.contains("401") && stderr.contains("invalid_token"),
        "{stderr}"
    );
    let output = admin(&app, TOKEN, &["stats"]).await;
    assert_eq!(printed(&output)["workspaces"], 0);
}
