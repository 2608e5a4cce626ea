//! Restarts: what a sled store keeps across a stop and a start on the same directory.
//! Members come back offline and `re-attend` with their old tokens; invites, PINs and
//! capacity still hold (so do the owner's later changes: see `bans.rs`); removals stay
//! removed; the offline and idle TTLs keep counting while the server is down. The memory
//! backend forgets everything.

mod common;

use common::store::{backend, durable};
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use switchboard::Config;

/// A sled server on `dir`, `tweak` applied on top.
async fn start_in(dir: &Path, tweak: fn(&mut Config)) -> TestApp {
    spawn_app_in(dir, |c| {
        durable(c);
        tweak(c);
    })
    .await
}

fn defaults(_: &mut Config) {}

/// Re-attends with `token` on `app`; panics unless it is `re-attended`.
async fn come_back(app: &TestApp, token: &str) -> Member {
    let (client, frame) = app.try_re_attend(token).await;
    assert_eq!(
        frame["event"], "re-attended",
        "re-attend after restart: {frame}"
    );
    Member::new(client, frame["data"].clone())
}

/// `(id, name, role, online)` of every listed attendee, in order.
fn summary(attendees: &Value) -> Vec<(String, String, String, bool)> {
    let list = attendees.as_array().expect("an attendees array");
    list.iter()
        .map(|a| {
            let online = a["online"].as_bool().expect("online is a bool");
            (
                str_of(&a["id"]),
                str_of(&a["name"]),
                str_of(&a["role"]),
                online,
            )
        })
        .collect()
}

/// The workspace object after a restart describes the one from before.
fn assert_same_workspace(after: &Value, before: &Value) {
    for key in ["id", "name", "owner", "protected", "capacity", "created_at"] {
        assert_eq!(after[key], before[key], "workspace {key} after restart");
    }
    assert_eq!(claims(&str_of(&after["invite"]))["wid"], before["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_come_back_offline_and_re_attend_with_their_old_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), defaults).await;
    let (owner, [ada, bob]) = app.workspace_with(["Ada", "Bob"]).await;
    let before = owner.workspace.clone();
    let ids = [owner.id(), ada.id(), bob.id()];
    let (owner_token, ada_token) = (owner.token.clone(), ada.token.clone());
    drop((owner, ada, bob));
    app.stop().await;

    let app = start_in(dir.path(), defaults).await;
    let mut owner = come_back(&app, &owner_token).await;
    assert_eq!(owner.attendee["id"], json!(ids[0]));
    assert_eq!(owner.attendee["role"], "owner");
    assert_same_workspace(&owner.workspace, &before);
    let owner_view = vec![
        (ids[0].clone(), "Owner".into(), "owner".into(), true),
        (ids[1].clone(), "Ada".into(), "attendee".into(), false),
        (ids[2].clone(), "Bob".into(), "attendee".into(), false),
    ];
    assert_eq!(summary(&owner.reply["attendees"]), owner_view);

    let ada = come_back(&app, &ada_token).await;
    assert_eq!(ada.attendee["id"], json!(ids[1]));
    assert_eq!(ada.attendee["role"], "attendee");
    let online = owner.client.recv_event("attendee-online").await;
    assert_eq!(online, json!({ "attendee_id": ids[1] }));
    let listed = summary(&owner.list_attendees().await);
    let online: Vec<bool> = listed.iter().map(|a| a.3).collect();
    assert_eq!(online, [true, true, false], "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_is_still_the_owner_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), defaults).await;
    let (owner, [ada]) = app.workspace_with(["Ada"]).await;
    let (owner_token, ada_token, ada_id) = (owner.token.clone(), ada.token.clone(), ada.id());
    drop((owner, ada));
    app.stop().await;

    let app = start_in(dir.path(), defaults).await;
    let mut ada = come_back(&app, &ada_token).await;
    let mut owner = come_back(&app, &owner_token).await;
    ada.client.recv_event("attendee-online").await;
    let kick = json!({ "attendee_id": ada_id });
    owner.client.ok("kick", kick, "kicked").await;
    ada.client.expect_close(4003).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_invite_and_its_pin_still_admit_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), defaults).await;
    let owner = app.create_workspace(Some("2468")).await;
    let (invite, owner_id) = (owner.invite(), owner.id());
    drop(owner);
    app.stop().await;

    let app = start_in(dir.path(), defaults).await;
    let (_client, frame) = app.try_attend(&invite, Some("1357"), "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin");
    let (_client, frame) = app.try_attend(&invite, None, "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin");
    let ada = app.attend(&invite, Some("2468"), "Ada").await;
    assert_eq!(ada.workspace["protected"], true);
    let listed = summary(&ada.reply["attendees"]);
    assert_eq!(listed[0], (owner_id, "Owner".into(), "owner".into(), false));
    assert_eq!(listed[1].1, "Ada");
    assert_eq!(listed.len(), 2, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_members_still_fill_the_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let three = |c: &mut Config| c.workspace.max_capacity = 3;
    let mut app = start_in(dir.path(), three).await;
    let (owner, members) = app.workspace_with(["Ada", "Bob"]).await;
    let invite = owner.invite();
    drop((owner, members));
    app.stop().await;

    let app = start_in(dir.path(), three).await;
    let (_client, frame) = app.try_attend(&invite, None, "Carol").await;
    assert_eq!(alert_code(&frame), "workspace_full");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn left_kicked_and_destroyed_stay_gone_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), defaults).await;
    let (mut owner, [mut ada, bob, carol]) = app.workspace_with(["Ada", "Bob", "Carol"]).await;
    ada.client.ok("leave", json!({}), "left").await;
    let kick = json!({ "attendee_id": bob.id() });
    owner.client.ok("kick", kick, "kicked").await;
    let mut doomed = app.create_workspace(None).await;
    doomed.client.ok("destroy", json!({}), "destroyed").await;
    let (doomed_token, doomed_invite) = (doomed.token.clone(), doomed.invite());
    let kept = [owner.id(), carol.id()];
    let tokens = [owner.token.clone(), ada.token.clone(), bob.token.clone()];
    drop((owner, ada, bob, carol, doomed));
    app.stop().await;

    let app = start_in(dir.path(), defaults).await;
    assert_eq!(
        app.re_attend_alert(&tokens[1]).await,
        "invalid_token",
        "left"
    );
    assert_eq!(
        app.re_attend_alert(&tokens[2]).await,
        "invalid_token",
        "kicked"
    );
    let owner = come_back(&app, &tokens[0]).await;
    assert_eq!(ids_of(&owner.reply["attendees"]), kept);
    let code = app.re_attend_alert(&doomed_token).await;
    assert_eq!(
        code, "workspace_not_found",
        "destroyed, by its owner's token"
    );
    let (_client, frame) = app.try_attend(&doomed_invite, None, "Late").await;
    assert_eq!(
        alert_code(&frame),
        "workspace_not_found",
        "destroyed, by invite"
    );
}

fn offline_ttl_2(c: &mut Config) {
    c.workspace.offline_ttl_secs = 2;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_ttl_keeps_counting_while_the_server_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), offline_ttl_2).await;
    let (mut owner, [mut ada, bob]) = app.acquainted_workspace(["Ada", "Bob"]).await;
    ada.go_offline_seen_by(&mut owner).await;
    let (owner_token, gone) = (owner.token.clone(), [ada.id(), bob.id()]);
    let tokens = [ada.token.clone(), bob.token.clone()];
    // Bob is online until the server stops.
    drop((owner, ada, bob));
    app.stop().await;
    // Time itself is awaited: past the offline TTL while nothing runs.
    tokio::time::sleep(Duration::from_millis(2600)).await;

    let app = start_in(dir.path(), offline_ttl_2).await;
    let mut owner = come_back(&app, &owner_token).await;
    // Removed at start, or by the first sweep, which the owner then hears.
    let mut listed = ids_of(&owner.reply["attendees"]);
    while listed.len() > 1 {
        let left = owner.client.recv_event("attendee-left").await;
        assert_eq!(left["reason"], "timeout", "{left}");
        assert!(gone.contains(&str_of(&left["attendee_id"])), "{left}");
        listed.retain(|id| *id != left["attendee_id"]);
    }
    assert_eq!(ids_of(&owner.list_attendees().await), vec![owner.id()]);
    for token in &tokens {
        assert_eq!(app.re_attend_alert(token).await, "invalid_token");
    }
}

fn idle_ttl_2(c: &mut Config) {
    c.workspace.idle_ttl_secs = 2;
    c.limits.pin_failures = 1000;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_idle_past_its_ttl_while_down_is_deleted_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), idle_ttl_2).await;
    // A PIN lets the test look without joining (joining would end the idleness).
    let mut owner = app.create_workspace(Some("idle-pin")).await;
    let (invite, token) = (owner.invite(), owner.token.clone());
    owner.client.close().await;
    let (_probe, frame) = app.try_attend(&invite, Some("not-it"), "Probe").await;
    assert_eq!(alert_code(&frame), "wrong_pin", "still there when stopping");
    app.stop().await;
    // Time itself is awaited: past the idle TTL while nothing runs.
    tokio::time::sleep(Duration::from_millis(2600)).await;

    let app = start_in(dir.path(), idle_ttl_2).await;
    assert_eq!(app.re_attend_alert(&token).await, "workspace_not_found");
    let (_client, frame) = app.try_attend(&invite, Some("idle-pin"), "Ada").await;
    assert_eq!(alert_code(&frame), "workspace_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_within_its_idle_ttl_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let idle_60 = |c: &mut Config| c.workspace.idle_ttl_secs = 60;
    let mut app = start_in(dir.path(), idle_60).await;
    let mut owner = app.create_workspace(None).await;
    owner.client.close().await;
    let token = owner.token.clone();
    app.stop().await;

    let app = start_in(dir.path(), idle_60).await;
    come_back(&app, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_backend_forgets_everything_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let memory = |c: &mut Config| {
        c.storage.backend = backend("memory");
        c.server.shutdown_grace_secs = 1;
    };
    let mut app = spawn_app_in(dir.path(), memory).await;
    let owner = app.create_workspace(None).await;
    let (token, invite) = (owner.token.clone(), owner.invite());
    drop(owner);
    app.stop().await;

    let app = spawn_app_in(dir.path(), memory).await;
    assert_eq!(app.re_attend_alert(&token).await, "workspace_not_found");
    let (_client, frame) = app.try_attend(&invite, None, "Ada").await;
    assert_eq!(alert_code(&frame), "workspace_not_found");
}

fn offline_ttl_6(c: &mut Config) {
    c.workspace.offline_ttl_secs = 6;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_ttl_resumes_from_the_stored_moment_not_from_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), offline_ttl_6).await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    // The server notes the moment between these two instants.
    let closing = std::time::Instant::now();
    ada.go_offline_seen_by(&mut owner).await;
    let seen = closing.elapsed();
    let (owner_token, ada_id) = (owner.token.clone(), ada.id());
    drop((owner, ada));
    app.stop().await;
    // Time itself is awaited: 4 of Ada's 6 seconds pass while nothing runs.
    tokio::time::sleep(Duration::from_secs(4)).await;

    let app = start_in(dir.path(), offline_ttl_6).await;
    let mut owner = come_back(&app, &owner_token).await;
    assert_eq!(
        ids_of(&owner.reply["attendees"]),
        [owner.id(), ada_id.clone()]
    );
    let left = owner.client.recv_event("attendee-left").await;
    assert_eq!(left, json!({"attendee_id": ada_id, "reason": "timeout"}));
    // Due 6 s after going offline, found by a sweep within a second after that; a TTL
    // started over by the restart would take 4 + 6 s.
    let after = closing.elapsed();
    let due = Duration::from_millis(5900)..seen + Duration::from_millis(7500);
    assert!(
        due.contains(&after),
        "removed {after:?} after closing (seen offline after {seen:?}), TTL 6 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_and_mic_cam_state_are_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = start_in(dir.path(), defaults).await;
    let (mut owner, [mut ada]) = app.workspace_with(["Ada"]).await;
    let ring = json!({"to": ada.id(), "call": "c1", "sdp": "offer"});
    owner.client.ok("ring", ring, "sent").await;
    ada.client.recv_event("ring").await;
    let answer = json!({"to": owner.id(), "call": "c1", "sdp": "answer"});
    ada.client.ok("answer", answer, "sent").await;
    let state = json!({"mic": true, "cam": false});
    ada.client.ok("state", state, "sent").await;
    let bob = app.attend(&owner.invite(), None, "Bob").await;
    assert_eq!(
        bob.reply["call"]["id"], "c1",
        "a call is going on: {}",
        bob.reply
    );
    assert_eq!(find(&bob.reply["attendees"], &ada.id())["mic"], true);
    let (owner_token, ada_token) = (owner.token.clone(), ada.token.clone());
    drop((owner, ada, bob));
    app.stop().await;

    let app = start_in(dir.path(), defaults).await;
    let _owner = come_back(&app, &owner_token).await;
    let ada = come_back(&app, &ada_token).await;
    assert!(
        ada.reply["call"].is_null(),
        "no call after a restart: {}",
        ada.reply
    );
    assert!(ada.attendee["mic"].is_null(), "{}", ada.attendee);
    assert!(ada.attendee["cam"].is_null(), "{}", ada.attendee);
}

/// A development start without `MAGICK_TOKEN` keeps its secret in the data directory, so
/// that what it signed still opens the workspaces it kept after a restart.
mod development_secret {
    use super::*;

    fn without_magick_token(c: &mut Config) {
        c.secrets.jwt = None;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invites_and_sessions_minted_before_a_restart_still_work() {
        let dir = tempfile::tempdir().unwrap();
        let mut app = start_in(dir.path(), without_magick_token).await;
        let owner = app.create_workspace(None).await;
        let (token, invite, wid) = (owner.token.clone(), owner.invite(), owner.workspace_id());
        drop(owner);
        app.stop().await;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.path().join("switchboard-dev-secret");
            let mode = std::fs::metadata(&file)
                .expect("the kept secret")
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o777,
                0o600,
                "{file:?} is its owner's only: {mode:o}"
            );
        }

        let app = start_in(dir.path(), without_magick_token).await;
        let owner = come_back(&app, &token).await;
        assert_eq!(owner.attendee["role"], "owner");
        let guest = app.attend(&invite, None, "Guest").await;
        assert_eq!(guest.workspace_id(), wid);
    }
}
