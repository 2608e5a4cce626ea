//! `switchboard import-json`: the Node.js webRTCWorkspaces storage file becomes a
//! Switchboard store, ids kept, with a fresh invite printed per workspace.

mod common;

use common::bin::{failure, output_of, switchboard, write_config, SECRETS};
use common::store::durable;
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const ROOM_A: &str = "_NodeRoomA1";
const ROOM_B: &str = "_NodeRoomB2";

fn node_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/webrtcworkspaces.json")
}

/// A directory to run in, with a config file naming `<dir>/store`.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), &dir.path().join("store"), "");
        Setup { dir, config }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `switchboard import-json FILE --config CONFIG [extra]` with `vars`.
    async fn import(&self, file: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut args = vec!["import-json", file.to_str().unwrap()];
        args.extend(["--config", self.config.to_str().unwrap()]);
        args.extend(extra);
        output_of(switchboard(self.dir.path(), &args, vars)).await
    }

    /// An import that must succeed; returns its stdout.
    async fn imported(&self, extra: &[&str]) -> String {
        let output = self.import(&node_file(), extra, &SECRETS).await;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "import failed: {stdout} {stderr}");
        stdout
    }
}

/// The invite printed for each workspace: the token after `invite: ` on its line.
fn invites(stdout: &str) -> HashMap<String, String> {
    let mut found = HashMap::new();
    for line in stdout.lines() {
        let Some(at) = line.find("invite: ") else {
            continue;
        };
        let token = line[at + "invite: ".len()..].split_whitespace().next();
        for wid in [ROOM_A, ROOM_B] {
            if line.contains(wid) {
                found.insert(wid.to_string(), token.expect("a token").to_string());
            }
        }
    }
    for wid in [ROOM_A, ROOM_B] {
        let invite = found.get(wid);
        let invite = invite.unwrap_or_else(|| panic!("no invite line for {wid}: {stdout}"));
        let claims = claims(invite);
        assert_eq!(
            (&claims["typ"], &claims["wid"]),
            (&json!("invite"), &json!(wid))
        );
    }
    found
}

/// `(id, name, role, online)` of every listed attendee, in order.
fn summary(attendees: &Value) -> Vec<(String, String, String, bool)> {
    let list = attendees.as_array().expect("an attendees array");
    let entry = |a: &Value| {
        let online = a["online"].as_bool().expect("online is a bool");
        (
            str_of(&a["id"]),
            str_of(&a["name"]),
            str_of(&a["role"]),
            online,
        )
    };
    list.iter().map(entry).collect()
}

fn person(id: &str, name: &str, role: &str) -> (String, String, String, bool) {
    (id.into(), name.into(), role.into(), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_workspaces_open_with_their_printed_invites() {
    let setup = Setup::new();
    let stdout = setup.imported(&[]).await;
    assert!(
        stdout.contains("unprotected"),
        "says there is no PIN: {stdout}"
    );
    let invites = invites(&stdout);

    let app = spawn_app_in(&setup.store(), durable).await;
    let newcomer = app.attend(&invites[ROOM_A], None, "Newcomer").await;
    assert_eq!(newcomer.workspace["id"], ROOM_A);
    assert_eq!(newcomer.workspace["name"], "Design review");
    assert_eq!(newcomer.workspace["owner"], "_GraceHop01");
    assert_eq!(newcomer.workspace["protected"], false);
    assert_eq!(newcomer.workspace["created_at"], 1_700_000_000_000_u64);
    assert!(newcomer.reply["call"].is_null(), "the call is not imported");
    let mut listed = summary(&newcomer.reply["attendees"]);
    assert_eq!(
        listed.pop().unwrap().0,
        newcomer.id(),
        "the newcomer comes last"
    );
    assert_eq!(listed[0], person("_GraceHop01", "Grace", "owner"));
    assert_eq!(listed[1..], [person("_AdaLovel02", "Ada", "attendee")]);

    let edsger = app.attend(&invites[ROOM_B], None, "Visitor").await;
    assert_eq!(edsger.workspace["name"], "Standup");
    assert_eq!(edsger.workspace["created_at"], 1_709_634_030_000_u64);
    let listed = summary(&edsger.reply["attendees"]);
    assert_eq!(listed[0], person("_EdsgerDi03", "Edsger", "owner"));
    assert_eq!(listed.len(), 2, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_given_at_import_protects_every_workspace() {
    let setup = Setup::new();
    let stdout = setup.imported(&["--pin", "4321"]).await;
    let invites = invites(&stdout);

    let app = spawn_app_in(&setup.store(), durable).await;
    for wid in [ROOM_A, ROOM_B] {
        let (_client, frame) = app.try_attend(&invites[wid], None, "Eve").await;
        assert_eq!(alert_code(&frame), "wrong_pin", "{wid} without a PIN");
        let (_client, frame) = app.try_attend(&invites[wid], Some("1234"), "Eve").await;
        assert_eq!(alert_code(&frame), "wrong_pin", "{wid} with another PIN");
        let guest = app.attend(&invites[wid], Some("4321"), "Guest").await;
        assert_eq!(guest.workspace["protected"], true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_without_magick_token() {
    let setup = Setup::new();
    let salt_only = [SECRETS[1]];
    let output = setup.import(&node_file(), &[], &salt_only).await;
    let stderr = failure(&output);
    assert!(stderr.contains("MAGICK_TOKEN"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_file_is_named() {
    let setup = Setup::new();
    let broken = setup.dir.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"_NodeRoomA1\": {\"id\": \"_NodeRoomA1\", \"attendees\": ",
    )
    .unwrap();
    let output = setup.import(&broken, &[], &SECRETS).await;
    let stderr = failure(&output);
    assert!(stderr.contains("broken.json"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_store_a_running_server_holds() {
    let setup = Setup::new();
    let app = spawn_app_in(&setup.store(), durable).await;
    let mut owner = app.create_workspace(None).await;

    let output = setup.import(&node_file(), &[], &SECRETS).await;
    let stderr = failure(&output);
    let path = setup.store().display().to_string();
    assert!(stderr.contains(&path), "names {path}: {stderr}");
    // The server is unaffected, and nothing was imported behind its back.
    assert_eq!(ids_of(&owner.list_attendees().await), vec![owner.id()]);
    let forged = json!({"typ": "invite", "wid": ROOM_A, "iat": 1_700_000_000});
    let invite = sign(&forged);
    let (_client, frame) = app.try_attend(&invite, None, "Eve").await;
    assert_eq!(alert_code(&frame), "workspace_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_a_directory_that_is_not_a_store() {
    let setup = Setup::new();
    std::fs::create_dir(setup.store()).unwrap();
    std::fs::write(setup.store().join("notes.txt"), "keep me\n").unwrap();

    let output = setup.import(&node_file(), &[], &SECRETS).await;
    let stderr = failure(&output);
    let path = setup.store().display().to_string();
    assert!(stderr.contains(&path), "names {path}: {stderr}");
    let left: Vec<_> = std::fs::read_dir(setup.store()).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing added next to notes.txt");
}

/// Signs `claims` with the harness SECRET (HS256).
fn sign(claims: &Value) -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    encode(&Header::default(), claims, &key).expect("sign")
}
