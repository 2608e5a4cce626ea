//! Failures (DESIGN.md, "Cluster"): a node killed with SIGKILL, a node restarted under
//! its old `node_id`, and Redis stopped and started again under running nodes.

use super::*;
use common::bin::Running;
use serde_json::json;
use std::path::Path;
use std::time::Duration;

/// What DESIGN.md allows between a node's death and its members shown offline
/// elsewhere, with a margin for a loaded test machine.
const DEATH_NOTICE: Duration = Duration::from_secs(15);

/// A node as a process of its own, which a test can kill.
async fn process_node(redis: &RedisServer, dir: &Path, node_id: &str, heartbeat: u64) -> Running {
    let config = dir.join(format!("{node_id}.toml"));
    let text = format!(
        "[storage]\nbackend = \"redis\"\n\n[cluster]\nredis_url = \"{}\"\nnode_id = \"{node_id}\"\nheartbeat_secs = {heartbeat}\n",
        redis.url()
    );
    std::fs::write(&config, text).expect("write the node's config");
    Running::start(dir, &config).await
}

async fn client_of(node: &Running) -> Client {
    Client::connect(&node.ws_url()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_members_go_offline_elsewhere_and_its_workspace_lives_on() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let survivor = node(&redis, "node-0", |_| {}).await;
    let doomed = process_node(&redis, dir.path(), "node-1", 1).await;

    // The workspace is owned by the node that will die, with members on both.
    let mut client = client_of(&doomed).await;
    let created = client
        .ok("create", json!({"name": "Doomed"}), "created")
        .await;
    let mut owner = Member::new(client, created);
    let mut ada = survivor.attend(&owner.invite(), None, "Ada").await;
    owner.client.recv_event("attendee-joined").await;
    let mut client = client_of(&doomed).await;
    let data = attend_data(&owner.invite(), None, "Bob");
    let reply = client.ok("attend", data, "attended").await;
    let bob = Member::new(client, reply);
    ada.client.recv_event("attendee-joined").await;
    // Acknowledged before the crash: the first invite is worthless from here on.
    let old_invite = owner.invite();
    let rotated = owner
        .client
        .ok("rotate-invite", json!({}), "invite-rotated")
        .await;
    let new_invite = rotated["invite"].as_str().unwrap().to_string();
    ada.client.recv_event("invite-rotated").await;

    doomed.kill9().await;
    let mut gone = Vec::new();
    for _ in 0..2 {
        let offline = within_for(
            DEATH_NOTICE,
            "the dead node's members offline",
            ada.client.recv_event("attendee-offline"),
        )
        .await;
        gone.push(str_of(&offline["attendee_id"]));
    }
    gone.sort();
    let mut expected = vec![owner.id(), bob.id()];
    expected.sort();
    assert_eq!(gone, expected);

    // They come back on the node that lives; the workspace is as it was acknowledged.
    let (_owner_again, frame) = survivor.try_re_attend(&owner.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(
        ada.client.recv_event("attendee-online").await["attendee_id"],
        owner.attendee["id"]
    );
    let (_eve, refused) = survivor.try_attend(&old_invite, None, "Eve").await;
    assert_eq!(alert_code(&refused), "invalid_token", "{refused}");
    survivor.attend(&new_invite, None, "Eve").await;
    let listed = ada.list_attendees().await;
    assert_eq!(
        ids_of(&listed).len(),
        4,
        "owner, Ada, Bob (offline) and Eve: {listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_under_its_node_id_takes_over_from_its_last_run_at_once() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let other = node(&redis, "node-0", |_| {}).await;
    // Heartbeats so far apart that only the restart can tell the others in time.
    let first = process_node(&redis, dir.path(), "node-1", 60).await;
    let mut client = client_of(&first).await;
    let created = client
        .ok("create", json!({"name": "Restarted"}), "created")
        .await;
    let owner = Member::new(client, created);
    let mut ada = other.attend(&owner.invite(), None, "Ada").await;

    first.kill9().await;
    let second = process_node(&redis, dir.path(), "node-1", 60).await;
    let offline = ada.client.recv_event("attendee-offline").await;
    assert_eq!(offline["attendee_id"], owner.attendee["id"]);

    let mut back = client_of(&second).await;
    let frame = back
        .request("re-attend", json!({"token": owner.token}))
        .await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(
        ada.client.recv_event("attendee-online").await["attendee_id"],
        owner.attendee["id"]
    );
    let candidate = json!({"to": ada.id(), "candidate": "from the new run"});
    back.ok("icecandidate", candidate, "sent").await;
    assert_eq!(
        ada.client.recv_event("icecandidate").await["candidate"],
        "from the new run"
    );
}

/// `/readyz`'s status on `app`.
async fn readiness(app: &TestApp) -> u16 {
    let url = format!("{}/readyz", app.http_url);
    reqwest::get(url).await.map_or(0, |r| r.status().as_u16())
}

/// Waits until `/readyz` on `app` answers `status`. Readiness follows the heartbeat:
/// nothing announces it, so it is asked again at a short interval, within a bound.
async fn until_readiness(app: &TestApp, status: u16, bound: Duration) {
    let reached = async {
        while readiness(app).await != status {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    within_for(bound, &format!("/readyz to answer {status}"), reached).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_nodes_relay_locally_refuse_what_needs_it_and_resume_after() {
    let mut redis = RedisServer::start().await;
    let apps = nodes(&redis, 2, |_, _| {}).await;
    let mut owner = apps[0].create_workspace(None).await;
    let mut ada = apps[0].attend(&owner.invite(), None, "Ada").await;
    let mut bob = apps[1].attend(&owner.invite(), None, "Bob").await;
    for _ in 0..2 {
        owner.client.recv_event("attendee-joined").await;
    }
    ada.client.recv_event("attendee-joined").await;

    redis.stop().await;
    for app in &apps {
        until_readiness(app, 503, Duration::from_secs(10)).await;
    }
    // Members of one node still reach each other.
    let candidate = json!({"to": ada.id(), "candidate": "same node"});
    owner.client.ok("icecandidate", candidate, "sent").await;
    assert_eq!(
        ada.client.recv_event("icecandidate").await["candidate"],
        "same node"
    );
    // What needs Redis is refused at once, not left hanging.
    let (_eve, frame) = apps[1].try_attend(&owner.invite(), None, "Eve").await;
    assert_eq!(alert_code(&frame), "unavailable", "{frame}");
    let mut creator = apps[1].client().await;
    let refused = creator.request("create", json!({"name": "x"})).await;
    assert_eq!(alert_code(&refused), "unavailable", "{refused}");

    redis.restart().await;
    for app in &apps {
        until_readiness(app, 200, Duration::from_secs(10)).await;
    }
    // Across nodes again, both ways.
    let candidate = json!({"to": owner.id(), "candidate": "after the outage"});
    bob.client.ok("icecandidate", candidate, "sent").await;
    let got = owner.client.recv_event("icecandidate").await;
    assert_eq!(got["candidate"], "after the outage");
    let candidate = json!({"to": bob.id(), "candidate": "back"});
    owner.client.ok("icecandidate", candidate, "sent").await;
    assert_eq!(
        bob.client.recv_event("icecandidate").await["candidate"],
        "back"
    );
    apps[1].attend(&owner.invite(), None, "Eve").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_whose_owner_died_alone_is_adopted_and_still_expires() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The node that sees the other die (it must outlive the test).
    let _witness = node(&redis, "node-0", |_| {}).await;
    let doomed = process_node(&redis, dir.path(), "node-1", 1).await;
    let mut client = client_of(&doomed).await;
    let created = client
        .ok("create", json!({"name": "Alone"}), "created")
        .await;
    let owner = Member::new(client, created);
    doomed.kill9().await;
    // The witness buries the dead node after three heartbeats, which nothing announces
    // to a test: Redis's list of nodes is asked at a short interval. Asking a node about
    // the workspace would make that node claim it.
    let mut conn = redis.connection().await;
    let buried = async {
        loop {
            let alive: u64 = ::redis::cmd("ZCARD")
                .arg("sb:alive")
                .query_async(&mut conn)
                .await
                .expect("ZCARD");
            if alive == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    within_for(DEATH_NOTICE, "the dead node to be buried", buried).await;

    // A node that joins adopts the orphan; with its ttl run out, it is deleted.
    let sweeper = node(&redis, "node-2", |c| c.workspace.idle_ttl_secs = 1).await;
    let key = format!("sb:ws:{}", str_of(&owner.workspace["id"]));
    let gone = async {
        loop {
            let exists: bool = ::redis::cmd("EXISTS")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .expect("EXISTS");
            if !exists {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    within_for(DEATH_NOTICE, "the orphan to expire", gone).await;
    drop(sweeper);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_change_redis_may_not_have_taken_every_node_serves_what_redis_holds() {
    let mut redis = RedisServer::start().await;
    let apps = nodes(&redis, 2, |_, _| {}).await;
    let mut owner = apps[0].create_workspace(None).await;
    let mut ada = apps[0].attend(&owner.invite(), None, "Ada").await;
    owner.client.recv_event("attendee-joined").await;
    let invite = owner.invite();

    redis.stop().await;
    for app in &apps {
        until_readiness(app, 503, Duration::from_secs(10)).await;
    }
    // The rotation is made in memory, then not stored: the workspace is let go of, and
    // every member told to reconnect (the one who asked as well: its answer is what it
    // finds when it comes back).
    owner
        .client
        .send(json!({"event": "rotate-invite", "id": 1, "data": {}}))
        .await;
    owner.client.expect_close(1012).await;
    ada.client.expect_close(1012).await;

    redis.restart().await;
    for app in &apps {
        until_readiness(app, 200, Duration::from_secs(10)).await;
    }
    // Whether the rotation reached Redis before it went away is not known to anyone;
    // what members meet afterwards is what Redis holds, on every node.
    let (_again, frame) = apps[1].try_re_attend(&owner.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    let served = frame["data"]["workspace"]["invite"]
        .as_str()
        .unwrap()
        .to_string();
    let key = format!("sb:ws:{}", str_of(&owner.workspace["id"]));
    let mut conn = redis.connection().await;
    let stored: String = ::redis::cmd("HGET")
        .arg(&key)
        .arg("w")
        .query_async(&mut conn)
        .await
        .expect("HGET");
    let stored: serde_json::Value = serde_json::from_str(&stored).expect("the stored workspace");
    assert_eq!(
        invite_version(&served),
        stored["invite_version"],
        "{stored}"
    );
    let (current, stale) = if invite_version(&served) == 0 {
        (invite, None)
    } else {
        (served, Some(invite))
    };
    apps[1].attend(&current, None, "Bob").await;
    if let Some(stale) = stale {
        let (_eve, refused) = apps[0].try_attend(&stale, None, "Eve").await;
        assert_eq!(alert_code(&refused), "invalid_token", "{refused}");
    }
}

/// The `ver` claim of an invite token.
fn invite_version(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    let claims: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON claims");
    claims["ver"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survivors_on_two_nodes_stay_online_to_each_other_when_the_owner_dies() {
    let redis = RedisServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let apps = nodes(&redis, 2, |_, _| {}).await;
    let doomed = process_node(&redis, dir.path(), "node-9", 1).await;
    let mut client = client_of(&doomed).await;
    let created = client
        .ok("create", json!({"name": "Doomed"}), "created")
        .await;
    let owner = Member::new(client, created);
    let mut ada = apps[0].attend(&owner.invite(), None, "Ada").await;
    let mut bob = apps[1].attend(&owner.invite(), None, "Bob").await;
    ada.client.recv_event("attendee-joined").await;

    doomed.kill9().await;
    for member in [&mut ada, &mut bob] {
        let offline = within_for(
            DEATH_NOTICE,
            "the owner offline",
            member.client.recv_event("attendee-offline"),
        )
        .await;
        assert_eq!(offline["attendee_id"], owner.attendee["id"]);
    }
    // The new owner knows both survivors online: they signal each other, and list
    // each other online, from either node.
    let candidate = json!({"to": bob.id(), "candidate": "still here"});
    ada.client.ok("icecandidate", candidate, "sent").await;
    assert_eq!(
        bob.client.recv_event("icecandidate").await["candidate"],
        "still here"
    );
    for member in [&mut ada, &mut bob] {
        let listed = member.list_attendees().await;
        let online: Vec<bool> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["online"] == true)
            .collect();
        assert_eq!(online, [false, true, true], "{listed}");
    }
    let state = json!({"mic": false});
    bob.client.ok("state", state, "sent").await;
    assert_eq!(
        ada.client.recv_event("state").await["from"],
        bob.attendee["id"]
    );
}
