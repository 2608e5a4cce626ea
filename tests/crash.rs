//! Acknowledged means durable: the real binary is killed with SIGKILL while clients are
//! busy, restarted on the same store, and every effect a client got a reply for is
//! still there (created, attended) or still gone (left, kicked, destroyed). Requests
//! in flight at the kill may land or not; they are not checked.

mod common;

use common::bin::{write_config, Running};
use common::tolerant::{Conn, Rng};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ROUNDS: usize = 8;
const WORKERS: usize = 4;
const CONFIG: &str = "[limits]\ncreates_per_minute = 100000\nrequests_per_second = 100000\n\
                      request_burst = 100000\n";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fate {
    /// Acknowledged and not since removed: must be there after a restart.
    Present,
    /// A removal was sent without a reply: either way is right.
    Unsure,
    /// Its removal was acknowledged: must stay gone.
    Gone,
}

/// Every acknowledged effect, by workspace and by member token.
#[derive(Default)]
struct Ledger {
    /// wid -> (owner's token, fate)
    rooms: HashMap<String, (String, Fate)>,
    /// member token -> (wid, attendee id, fate)
    members: HashMap<String, (String, String, Fate)>,
}

type Shared = Arc<Mutex<Ledger>>;

/// A workspace a worker owns, with the connections of its members.
struct Room {
    wid: String,
    invite: String,
    owner: Conn,
    members: Vec<(Conn, String, String)>,
}

/// One client's loop: random requests on its own workspaces until the server dies.
async fn worker(url: String, mut rng: Rng, ledger: Shared) {
    let mut rooms: Vec<Room> = Vec::new();
    while step(&url, &mut rng, &mut rooms, &ledger).await.is_some() {}
}

async fn step(url: &str, rng: &mut Rng, rooms: &mut Vec<Room>, ledger: &Shared) -> Option<()> {
    let roll = rng.below(100);
    if rooms.is_empty() || (roll < 15 && rooms.len() < 3) {
        return create(url, rooms, ledger).await;
    }
    let at = rng.below(rooms.len() as u64) as usize;
    let room = &mut rooms[at];
    let count = room.members.len() as u64;
    let pick = rng.below(count.max(1)) as usize;
    if count == 0 || (roll < 55 && count < 4) {
        attend(url, room, ledger).await
    } else if roll < 75 {
        leave(room, pick, ledger).await
    } else if roll < 93 {
        kick(room, pick, ledger).await
    } else {
        let room = rooms.swap_remove(at);
        destroy(room, ledger).await
    }
}

async fn create(url: &str, rooms: &mut Vec<Room>, ledger: &Shared) -> Option<()> {
    let mut owner = Conn::open(url).await?;
    let reply = owner.call("create", json!({"name": "Crash room"})).await?;
    assert_eq!(reply["event"], "created", "{reply}");
    let (wid, invite) = (
        str_of(&reply["data"]["workspace"]["id"]),
        str_of(&reply["data"]["workspace"]["invite"]),
    );
    let token = str_of(&reply["data"]["token"]);
    ledger
        .lock()
        .unwrap()
        .rooms
        .insert(wid.clone(), (token, Fate::Present));
    rooms.push(Room {
        wid,
        invite,
        owner,
        members: Vec::new(),
    });
    Some(())
}

async fn attend(url: &str, room: &mut Room, ledger: &Shared) -> Option<()> {
    let mut conn = Conn::open(url).await?;
    let data = json!({"invite": room.invite, "name": "Crash guest"});
    let reply = conn.call("attend", data).await?;
    assert_eq!(reply["event"], "attended", "{reply}");
    let (id, token) = (
        str_of(&reply["data"]["attendee"]["id"]),
        str_of(&reply["data"]["token"]),
    );
    let entry = (room.wid.clone(), id.clone(), Fate::Present);
    ledger.lock().unwrap().members.insert(token.clone(), entry);
    room.members.push((conn, id, token));
    Some(())
}

fn set_member(ledger: &Shared, token: &str, fate: Fate) {
    ledger
        .lock()
        .unwrap()
        .members
        .get_mut(token)
        .expect("a recorded member")
        .2 = fate;
}

async fn leave(room: &mut Room, at: usize, ledger: &Shared) -> Option<()> {
    let (mut conn, _id, token) = room.members.swap_remove(at);
    set_member(ledger, &token, Fate::Unsure);
    let reply = conn.call("leave", json!({})).await?;
    assert_eq!(reply["event"], "left", "{reply}");
    set_member(ledger, &token, Fate::Gone);
    Some(())
}

async fn kick(room: &mut Room, at: usize, ledger: &Shared) -> Option<()> {
    let (_conn, id, token) = room.members.swap_remove(at);
    set_member(ledger, &token, Fate::Unsure);
    let reply = room
        .owner
        .call("kick", json!({ "attendee_id": id }))
        .await?;
    assert_eq!(reply["event"], "kicked", "{reply}");
    set_member(ledger, &token, Fate::Gone);
    Some(())
}

async fn destroy(mut room: Room, ledger: &Shared) -> Option<()> {
    ledger
        .lock()
        .unwrap()
        .rooms
        .get_mut(&room.wid)
        .expect("a recorded room")
        .1 = Fate::Unsure;
    let reply = room.owner.call("destroy", json!({})).await?;
    assert_eq!(reply["event"], "destroyed", "{reply}");
    ledger
        .lock()
        .unwrap()
        .rooms
        .get_mut(&room.wid)
        .expect("a recorded room")
        .1 = Fate::Gone;
    Some(())
}

/// What `token` gets from `re-attend` on a fresh connection: the reply frame.
async fn re_attend(url: &str, token: &str) -> Value {
    let mut conn = Conn::open(url).await.expect("the restarted server accepts");
    let data = json!({ "token": token });
    conn.call("re-attend", data)
        .await
        .expect("the restarted server answers")
}

fn code_of(frame: &Value) -> &str {
    frame["data"]["code"].as_str().unwrap_or("(not an alert)")
}

/// One check: a token and what its `re-attend` must give.
struct Check {
    token: String,
    expect: &'static str,
    /// For owners: members that must be listed, and members that must not.
    listed: Vec<String>,
    unlisted: Vec<String>,
}

fn checks_of(ledger: &Ledger) -> Vec<Check> {
    let mut checks = Vec::new();
    for (wid, (token, fate)) in &ledger.rooms {
        let mine = ledger.members.values().filter(|m| m.0 == *wid);
        let with = |f: Fate| {
            mine.clone()
                .filter(|m| m.2 == f)
                .map(|m| m.1.clone())
                .collect()
        };
        let expect = match fate {
            Fate::Present => "re-attended",
            Fate::Gone => "workspace_not_found",
            Fate::Unsure => continue,
        };
        let (listed, unlisted) = (with(Fate::Present), with(Fate::Gone));
        checks.push(Check {
            token: token.clone(),
            expect,
            listed,
            unlisted,
        });
    }
    for (token, (wid, _, fate)) in &ledger.members {
        let expect = match (ledger.rooms[wid].1, fate) {
            (Fate::Present, Fate::Present) => "re-attended",
            (Fate::Present, Fate::Gone) => "invalid_token",
            _ => continue,
        };
        checks.push(Check {
            token: token.clone(),
            expect,
            listed: vec![],
            unlisted: vec![],
        });
    }
    checks
}

async fn verify(url: &str, check: Check) {
    let frame = re_attend(url, &check.token).await;
    let got = match frame["event"].as_str() {
        Some("alert") => code_of(&frame),
        _ => frame["event"].as_str().unwrap_or("?"),
    };
    assert_eq!(got, check.expect, "re-attend after a SIGKILL: {frame}");
    if check.expect != "re-attended" {
        return;
    }
    let ids = ids_of(&frame["data"]["attendees"]);
    for id in &check.listed {
        assert!(
            ids.contains(id),
            "acknowledged member {id} is lost: {ids:?}"
        );
    }
    for id in &check.unlisted {
        assert!(!ids.contains(id), "removed member {id} is back: {ids:?}");
    }
}

/// Every acknowledged effect so far, checked concurrently; returns how many checks.
async fn verify_all(url: &str, ledger: &Shared) -> usize {
    let checks = checks_of(&ledger.lock().unwrap());
    let count = checks.len();
    let mut lanes: Vec<Vec<Check>> = (0..8).map(|_| Vec::new()).collect();
    for (i, check) in checks.into_iter().enumerate() {
        lanes[i % 8].push(check);
    }
    let tasks = lanes.into_iter().map(|lane| {
        let url = url.to_string();
        tokio::spawn(async move {
            for check in lane {
                verify(&url, check).await;
            }
        })
    });
    for task in futures_util::future::join_all(tasks).await {
        task.expect("a verifying task");
    }
    count
}

/// Starts the workers, kills the server at a random moment, waits for them to notice.
async fn busy_then_killed(server: Running, rng: &mut Rng, ledger: &Shared) {
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let seed = rng.next() | 1;
            tokio::spawn(worker(server.ws_url(), Rng(seed), ledger.clone()))
        })
        .collect();
    // Time itself is awaited: the kill lands at a random moment of the traffic.
    tokio::time::sleep(Duration::from_millis(100 + rng.below(400))).await;
    server.kill9().await;
    for task in workers {
        within("a worker to notice the kill", task)
            .await
            .expect("a worker");
    }
}

fn seed() -> u64 {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let seed = seed.unwrap_or(0x5EED_CAFE_F00D_0001);
    eprintln!("crash seed: {seed} (set CRASH_SEED to repeat)");
    seed
}

async fn rounds(dir: &Path) {
    let store = dir.join("store");
    let config = write_config(dir, &store, CONFIG);
    let mut rng = Rng(seed());
    let ledger = Shared::default();
    for round in 0..ROUNDS {
        let server = Running::start(dir, &config).await;
        let checked = verify_all(&server.ws_url(), &ledger).await;
        eprintln!("round {round}: {checked} acknowledged effects checked");
        busy_then_killed(server, &mut rng, &ledger).await;
    }
    let server = Running::start(dir, &config).await;
    let checked = verify_all(&server.ws_url(), &ledger).await;
    assert!(
        checked > ROUNDS * WORKERS,
        "the rounds did real work: {checked} checks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_effect_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    within_for(
        Duration::from_secs(50),
        "the crash rounds",
        rounds(dir.path()),
    )
    .await;
}

/// A server that was SIGKILLed with a workspace in use (its owner, and Ada when asked,
/// online), then left down for 3.5 s: past ttls of 2 s and past its last alive mark.
struct Crashed {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    created: serde_json::Value,
    attended: Option<serde_json::Value>,
}

async fn crashed_in_use(workspace_settings: &str, with_ada: bool) -> Crashed {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let settings = format!("[workspace]\n{workspace_settings}\n");
    let config = write_config(dir.path(), &store, &settings);
    let server = Running::start(dir.path(), &config).await;
    let mut owner = Client::connect(&server.ws_url()).await;
    let created = owner.ok("create", json!({}), "created").await;
    let mut attended = None;
    if with_ada {
        let invite = str_of(&created["workspace"]["invite"]);
        let mut ada = Client::connect(&server.ws_url()).await;
        attended = Some(
            ada.ok("attend", json!({ "invite": invite }), "attended")
                .await,
        );
    }
    server.kill9().await;
    // Time itself is awaited: past the TTL, and past the last alive mark.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    Crashed {
        dir,
        config,
        created,
        attended,
    }
}

/// A member online at the crash counts as offline from the server's last sign of life,
/// so the offline TTL removes them after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_online_at_a_crash_time_out_after_the_restart() {
    let crashed = crashed_in_use("offline_ttl_secs = 2", true).await;
    let (created, attended) = (&crashed.created, crashed.attended.as_ref().unwrap());

    let server = Running::start(crashed.dir.path(), &crashed.config).await;
    let mut owner = Client::connect(&server.ws_url()).await;
    let token = json!({ "token": str_of(&created["token"]) });
    let back = owner.ok("re-attend", token, "re-attended").await;
    // Removed at start, or by the first sweep (about a second later), heard by the owner.
    let ada_id = str_of(&attended["attendee"]["id"]);
    if ids_of(&back["attendees"]).contains(&ada_id) {
        let left = owner.recv_event("attendee-left").await;
        assert_eq!(left, json!({"attendee_id": ada_id, "reason": "timeout"}));
    }
    let frame = re_attend(&server.ws_url(), &str_of(&attended["token"])).await;
    assert_eq!(code_of(&frame), "invalid_token", "{frame}");
}

/// A workspace whose members were online at the crash is idle from the server's last
/// sign of life: past `idle_ttl_secs` it is deleted at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_busy_at_a_crash_is_idle_from_then_on() {
    let crashed = crashed_in_use("idle_ttl_secs = 2", false).await;
    let server = Running::start(crashed.dir.path(), &crashed.config).await;
    let frame = re_attend(&server.ws_url(), &str_of(&crashed.created["token"])).await;
    assert_eq!(code_of(&frame), "workspace_not_found", "{frame}");
}

/// Without any configuration the binary keeps a sled store in ./data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_binary_keeps_its_store_in_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = Running::start_with(dir.path(), &[]).await;
    let mut owner = Client::connect(&server.ws_url()).await;
    let created = owner.ok("create", json!({}), "created").await;
    server.kill9().await;
    let marker = dir.path().join("data/switchboard-store.toml");
    assert!(marker.is_file(), "a store in ./data, marked");

    let server = Running::start_with(dir.path(), &[]).await;
    let frame = re_attend(&server.ws_url(), &str_of(&created["token"])).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}
