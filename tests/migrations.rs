//! Stores written by earlier layouts still open. `tests/fixtures/store-v1/` is a layout 1
//! store written by the server itself, with what it holds in `tests/fixtures/store-v1.json`.
//! `cargo test --test migrations -- --ignored` writes the same pair for the layout the
//! server writes today: run it before changing the layout, to keep the one left behind.

mod common;

use common::store::{copy_dir, durable, marker_of};
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use switchboard::Config;

const PIN: &str = "1357";
/// The layout the server writes today.
const LAYOUT: u32 = 2;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixture was written long ago: TTLs long enough that nothing in it expires.
fn timeless(config: &mut Config) {
    durable(config);
    let ten_years = 10 * 365 * 86_400;
    config.workspace.offline_ttl_secs = ten_years;
    config.workspace.idle_ttl_secs = ten_years;
}

fn expected() -> Value {
    let path = fixture("store-v1.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// `(id, name, role)` of every listed attendee, in order.
fn people(attendees: &Value) -> Vec<(String, String, String)> {
    let list = attendees.as_array().expect("an attendees array");
    list.iter()
        .map(|a| (str_of(&a["id"]), str_of(&a["name"]), str_of(&a["role"])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_1_store_opens_with_its_workspace_invite_and_pin() {
    let expected = expected();
    let dir = tempfile::tempdir().unwrap();
    // Opening a store writes to it: the test works on a copy.
    copy_dir(&fixture("store-v1"), dir.path());
    let app = spawn_app_in(dir.path(), timeless).await;
    let (invite, pin) = (str_of(&expected["invite"]), str_of(&expected["pin"]));

    let (_client, frame) = app.try_attend(&invite, Some("0000"), "Eve").await;
    assert_eq!(alert_code(&frame), "wrong_pin");
    let newcomer = app.attend(&invite, Some(&pin), "Newcomer").await;
    let workspace = &newcomer.workspace;
    for key in ["id", "name", "owner", "created_at", "capacity"] {
        assert_eq!(
            workspace[key], expected["workspace"][key],
            "workspace {key}"
        );
    }
    assert_eq!(workspace["protected"], true);

    let mut listed = people(&newcomer.reply["attendees"]);
    let me = listed.pop().expect("the newcomer is listed");
    assert_eq!(me, (newcomer.id(), "Newcomer".into(), "attendee".into()));
    assert_eq!(listed, people(&expected["attendees"]));
    let stored = &newcomer.reply["attendees"].as_array().unwrap()[..listed.len()];
    assert!(stored.iter().all(|a| a["online"] == false), "{stored:?}");

    let marker = std::fs::read_to_string(marker_of(dir.path())).unwrap();
    let migrated = format!("layout = {LAYOUT}");
    assert!(marker.contains(&migrated), "migrated: {marker}");
}

/// The owner's session token for the fixture's workspace, signed as the server signs.
fn owner_token(expected: &Value) -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let owner = &expected["attendees"][0];
    assert_eq!(owner["role"], "owner", "the fixture lists its owner first");
    let claims = json!({"typ": "session", "wid": expected["workspace"]["id"],
        "sub": owner["id"], "role": "owner", "iat": now, "exp": now + 600});
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_1_invite_works_until_the_first_rotation_which_survives_a_restart() {
    let expected = expected();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture("store-v1"), dir.path());
    let mut app = spawn_app_in(dir.path(), timeless).await;
    let (old, pin) = (str_of(&expected["invite"]), str_of(&expected["pin"]));
    assert!(
        claims(&old).get("ver").is_none(),
        "minted before versions: {old}"
    );
    let mut client = app.client().await;
    let data = json!({"token": owner_token(&expected)});
    client.ok("re-attend", data, "re-attended").await;
    let rotated = client
        .ok("rotate-invite", json!({}), "invite-rotated")
        .await;
    let (_client, frame) = app.try_attend(&old, Some(&pin), "Late").await;
    assert_eq!(alert_code(&frame), "invalid_token");
    drop(client);
    app.stop().await;

    let app = spawn_app_in(dir.path(), timeless).await;
    let (_client, frame) = app.try_attend(&old, Some(&pin), "Late").await;
    assert_eq!(alert_code(&frame), "invalid_token", "after a restart");
    app.attend(&str_of(&rotated["invite"]), Some(&pin), "Newcomer")
        .await;
}

/// Leaves out what git would not keep (empty directories) and the lock file, a
/// run-time artifact: the fixture is tested as a checkout has it.
fn as_git_keeps_it(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("switchboard.lock"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && std::fs::read_dir(&path).unwrap().next().is_none() {
            std::fs::remove_dir(&path).unwrap();
        }
    }
}

/// Writes `tests/fixtures/store-v{LAYOUT}/` and `tests/fixtures/store-v{LAYOUT}.json`
/// with the server as built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes a fixture; run with --ignored"]
async fn regenerate_the_fixture_of_todays_layout() {
    let scratch = tempfile::tempdir().unwrap();
    let mut app = spawn_app_in(scratch.path(), durable).await;
    let mut grace = app.client().await;
    let data = json!({"name": "Fixture room", "pin": PIN, "attendee_name": "Grace"});
    let created = grace.ok("create", data, "created").await;
    let invite = str_of(&created["workspace"]["invite"]);
    let ada = app.attend(&invite, Some(PIN), "Ada").await;
    let linus = app.attend(&invite, Some(PIN), "Linus").await;
    let attendees = linus.reply["attendees"].clone();
    drop((grace, ada, linus));
    app.stop().await;

    let marker = std::fs::read_to_string(marker_of(scratch.path())).unwrap();
    let today = format!("layout = {LAYOUT}");
    assert!(
        marker.contains(&today),
        "the server writes {today}: {marker}"
    );
    let target = fixture(&format!("store-v{LAYOUT}"));
    if target.exists() {
        std::fs::remove_dir_all(&target).unwrap();
    }
    copy_dir(scratch.path(), &target);
    as_git_keeps_it(&target);
    let listed: Vec<Value> = people(&attendees)
        .into_iter()
        .map(|(id, name, role)| json!({"id": id, "name": name, "role": role}))
        .collect();
    let contents = json!({
        "layout": LAYOUT,
        "note": "Written by regenerate_the_fixture_of_todays_layout in tests/migrations.rs; \
                 tokens are signed with the harness SECRET; the PIN is below.",
        "workspace": created["workspace"],
        "invite": invite,
        "pin": PIN,
        "attendees": listed,
    });
    let text = serde_json::to_string_pretty(&contents).unwrap() + "\n";
    std::fs::write(fixture(&format!("store-v{LAYOUT}.json")), text).unwrap();
}
