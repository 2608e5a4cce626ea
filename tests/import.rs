//! `switchboard import-json`: the Node.js webRTCWorkspaces storage file becomes a
//! Switchboard store, ids kept, with a fresh invite printed per workspace and a link per
//! member that signs a browser in as that member.

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

/// What the import printed for one workspace: its invite link, and a link per member
/// as `(role, attendee id, link)` in the printed order.
struct Printed {
    invite: String,
    members: Vec<(String, String, String)>,
}

impl Printed {
    /// The invite token the invite link carries.
    fn invite_token(&self) -> String {
        let (_, token) = self.invite.split_once("/?invite=").expect("an invite link");
        token.to_string()
    }

    /// The session token the link of member `id` carries.
    fn session_of(&self, id: &str) -> String {
        let (_, _, link) = self.members.iter().find(|m| m.1 == id).expect("a link");
        let (_, token) = link.split_once("/#session=").expect("a session link");
        token.to_string()
    }
}

/// The workspaces' blocks of the import's output: a `workspace ID ...` line, then
/// `  invite: LINK` and `  ROLE ID "NAME": LINK` lines.
fn printed(stdout: &str) -> HashMap<String, Printed> {
    let mut found: HashMap<String, Printed> = HashMap::new();
    let mut current = None;
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("workspace ") {
            let wid = rest
                .split([' ', ':'])
                .next()
                .unwrap_or_default()
                .to_string();
            current = Some(wid);
            continue;
        }
        let (Some(wid), Some(item)) = (&current, line.strip_prefix("  ")) else {
            continue;
        };
        let link = item.rsplit(' ').next().unwrap_or_default().to_string();
        let entry = found.entry(wid.clone()).or_insert(Printed {
            invite: String::new(),
            members: Vec::new(),
        });
        let mut words = item.split(' ');
        match (words.next(), words.next()) {
            (Some("invite:"), _) => entry.invite = link,
            (Some(role), Some(id)) => entry.members.push((role.into(), id.into(), link)),
            _ => panic!("an unexpected line: {line}"),
        }
    }
    for wid in [ROOM_A, ROOM_B] {
        let printed = found.get(wid);
        let printed = printed.unwrap_or_else(|| panic!("nothing printed for {wid}: {stdout}"));
        let claims = claims(&printed.invite_token());
        assert_eq!(
            (&claims["typ"], &claims["wid"]),
            (&json!("invite"), &json!(wid))
        );
    }
    found
}

/// The invite token printed for each workspace.
fn invites(stdout: &str) -> HashMap<String, String> {
    printed(stdout)
        .into_iter()
        .map(|(wid, printed)| (wid, printed.invite_token()))
        .collect()
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
async fn each_member_gets_a_link_of_the_demo_app_at_the_configured_address() {
    let setup = Setup::new();
    let printed = printed(&setup.imported(&[]).await);
    let room_a = &printed[ROOM_A];
    // No --base-url: the config's address (the defaults: http, 127.0.0.1, port 9090).
    assert_eq!(
        room_a.invite,
        format!("http://127.0.0.1:9090/?invite={}", room_a.invite_token())
    );
    let roles: Vec<_> = room_a.members.iter().map(|m| (&*m.0, &*m.1)).collect();
    assert_eq!(
        roles,
        [("owner", "_GraceHop01"), ("attendee", "_AdaLovel02")],
        "the owner first"
    );
    for (_, id, link) in &room_a.members {
        assert!(
            link.starts_with("http://127.0.0.1:9090/#session="),
            "{link}"
        );
        let claims = claims(&room_a.session_of(id));
        assert_eq!(
            (&claims["wid"], &claims["sub"]),
            (&json!(ROOM_A), &json!(id))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_link_signs_in_as_the_owner_who_can_kick_and_destroy() {
    let setup = Setup::new();
    let stdout = setup
        .imported(&["--base-url", "https://call.example.com/"])
        .await;
    let room_a = &printed(&stdout)[ROOM_A];
    let (_, _, link) = &room_a.members[0];
    assert!(
        link.starts_with("https://call.example.com/#session="),
        "{link}"
    );

    let app = spawn_app_in(&setup.store(), durable).await;
    let (client, frame) = app.try_re_attend(&room_a.session_of("_GraceHop01")).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    let mut grace = Member::new(client, frame["data"].clone());
    assert_eq!(grace.attendee["id"], "_GraceHop01");
    assert_eq!(grace.attendee["role"], "owner");
    // Ada comes back with hers, and her owner removes her.
    let (client, frame) = app.try_re_attend(&room_a.session_of("_AdaLovel02")).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    let mut ada = Member::new(client, frame["data"].clone());
    let kick = json!({ "attendee_id": "_AdaLovel02" });
    grace.client.ok("kick", kick, "kicked").await;
    ada.client.expect_close(4003).await;
    grace.client.ok("destroy", json!({}), "destroyed").await;
    let (_client, frame) = app.try_attend(&room_a.invite_token(), None, "Late").await;
    assert_eq!(alert_code(&frame), "workspace_not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_that_is_not_http_is_refused() {
    let setup = Setup::new();
    let output = setup
        .import(&node_file(), &["--base-url", "call.example.com"], &SECRETS)
        .await;
    let stderr = failure(&output);
    assert!(stderr.contains("--base-url"), "{stderr}");
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
