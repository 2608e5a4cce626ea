//! The Redis store against a real `redis-server` (append-only, fsync always): records
//! come back as written, in the order applied; they survive a restart of Redis; an
//! outage fails syncs within their bound, never hangs, and writes resume after it; a
//! database of another layout or owner is refused and left as it was.

mod common;

use common::redis::RedisServer;
use common::within;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use switchboard::auth::Role;
use switchboard::store::{
    Change, MemberRecord, RedisStore, Store, StoreError, StoredWorkspace, WorkspaceRecord,
};

async fn connect(redis: &RedisServer) -> ConnectionManager {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let connecting = ConnectionManager::new_with_config(client, RedisStore::manager_config());
    within("a connection to redis-server", connecting)
        .await
        .expect("connect to redis-server")
}

async fn open(redis: &RedisServer) -> Result<RedisStore, StoreError> {
    let conn = connect(redis).await;
    within("the store to open", RedisStore::open(conn, redis.url())).await
}

fn workspace(id: &str, capacity: usize) -> WorkspaceRecord {
    WorkspaceRecord {
        id: id.into(),
        name: format!("room {id}"),
        owner: "owner".into(),
        pin_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        created_at: 1_700_000_000_000,
        capacity,
        idle_since: None,
        invite_version: 3,
        bans: Vec::new(),
    }
}

fn member(id: &str, name: &str) -> MemberRecord {
    MemberRecord {
        id: id.into(),
        name: name.into(),
        role: if id == "owner" {
            Role::Owner
        } else {
            Role::Attendee
        },
        joined_at: 1_700_000_000_500,
        offline_since: None,
        addr: Some("203.0.113.7".parse().expect("an address")),
    }
}

async fn apply_and_sync(store: &RedisStore, changes: &[Change]) {
    store.apply(changes).expect("apply");
    within("sync", store.sync()).await.expect("sync");
}

async fn load(store: &RedisStore, wid: &str) -> Option<StoredWorkspace> {
    within("load_workspace", store.load_workspace(wid))
        .await
        .expect("load_workspace")
}

async fn ids(store: &RedisStore) -> Vec<String> {
    let mut ids = within("workspace_ids", store.workspace_ids())
        .await
        .expect("workspace_ids");
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_come_back_as_written_and_drops_remove_them() {
    let redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    let (a, b) = (workspace("a", 4), workspace("b", 8));
    let members = vec![
        member("m1", "Ann"),
        member("m2", "Bob"),
        member("owner", "O"),
    ];
    let mut changes = vec![Change::PutWorkspace(a.clone()), Change::PutWorkspace(b)];
    changes.extend(
        members
            .iter()
            .map(|m| Change::PutMember("a".into(), m.clone())),
    );
    changes.push(Change::AliveAt(42));
    apply_and_sync(&store, &changes).await;

    assert_eq!(load(&store, "a").await, Some((a.clone(), members.clone())));
    assert_eq!(ids(&store).await, vec!["a", "b"]);
    assert_eq!(load(&store, "nowhere").await, None);
    assert!(store.load().expect("load").workspaces.is_empty());

    apply_and_sync(&store, &[Change::DropMember("a".into(), "m1".into())]).await;
    assert_eq!(load(&store, "a").await, Some((a, members[1..].to_vec())));

    apply_and_sync(&store, &[Change::DropWorkspace("a".into())]).await;
    assert_eq!(load(&store, "a").await, None);
    assert_eq!(ids(&store).await, vec!["b"]);
    let mut conn = connect(&redis).await;
    let gone: bool = conn.exists("sb:ws:a").await.expect("EXISTS");
    assert!(!gone, "the workspace and its members are one key, deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_land_in_the_order_they_were_applied() {
    let redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    for i in 0..500 {
        let name = format!("name {i}");
        store
            .apply(&[
                Change::PutWorkspace(workspace("a", i)),
                Change::PutMember("a".into(), member("m", &name)),
            ])
            .expect("apply");
        if i % 2 == 0 {
            store
                .apply(&[Change::DropMember("a".into(), "m".into())])
                .expect("apply");
        }
    }
    within("sync", store.sync()).await.expect("sync");
    let (ws, members) = load(&store, "a").await.expect("the workspace");
    assert_eq!(ws.capacity, 499);
    assert_eq!(members, vec![member("m", "name 499")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_synced_survives_a_restart_of_redis() {
    let mut redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    let written = (workspace("a", 4), vec![member("owner", "O")]);
    let changes = [
        Change::PutWorkspace(written.0.clone()),
        Change::PutMember("a".into(), written.1[0].clone()),
    ];
    apply_and_sync(&store, &changes).await;
    drop(store);

    redis.stop().await;
    redis.restart().await;
    let store = open(&redis).await.expect("the store opens again");
    assert_eq!(load(&store, "a").await, Some(written));
    assert_eq!(ids(&store).await, vec!["a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_syncs_in_bound_and_writes_resume_after_it() {
    let mut redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    let before = (workspace("a", 4), vec![member("owner", "O")]);
    let changes = [
        Change::PutWorkspace(before.0.clone()),
        Change::PutMember("a".into(), before.1[0].clone()),
    ];
    apply_and_sync(&store, &changes).await;

    redis.stop().await;
    // `apply` only queues: it returns at once, Redis or not.
    store
        .apply(&[Change::PutWorkspace(workspace("lost", 1))])
        .expect("apply while Redis is down");
    let failed = within("a sync while Redis is down", store.sync()).await;
    assert!(
        matches!(failed, Err(StoreError::RedisUnreachable { .. })),
        "{failed:?}"
    );
    assert!(within("a read", store.workspace_ids()).await.is_err());

    redis.restart().await;
    apply_and_sync(&store, &[Change::PutWorkspace(workspace("b", 2))]).await;
    assert_eq!(load(&store, "a").await, Some(before));
    // The lost batch was dropped, not written after later ones.
    assert_eq!(ids(&store).await, vec!["a", "b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_fails_apply_at_once() {
    let mut redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    redis.stop().await;
    let change = [Change::PutWorkspace(workspace("a", 1))];
    let refused = (0..=RedisStore::QUEUE + 1_000)
        .find_map(|_| store.apply(&change).err())
        .expect("apply fails once the queue is full");
    assert!(refused.to_string().contains("batches wait"), "{refused}");
    assert!(within("sync", store.sync()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_database_gets_layout_1_and_other_layouts_are_refused() {
    let redis = RedisServer::start().await;
    let mut conn = connect(&redis).await;
    drop(open(&redis).await.expect("a fresh store opens"));
    let layout: String = conn.get("sb:layout").await.expect("GET");
    assert_eq!(layout, "1");

    let () = conn.set("sb:layout", "99").await.expect("SET");
    let newer = open(&redis).await.err().expect("a newer layout is refused");
    let message = newer.to_string();
    assert!(matches!(
        newer,
        StoreError::RedisNewer {
            found: 99,
            known: 1,
            ..
        }
    ));
    assert!(
        message.contains("99") && message.contains(&redis.url()),
        "{message}"
    );
    let kept: String = conn.get("sb:layout").await.expect("GET");
    assert_eq!(kept, "99", "a refused store is left as it was");

    let () = conn.del("sb:layout").await.expect("DEL");
    let () = conn.hset("sb:ws:x", "w", "{}").await.expect("HSET");
    let foreign = open(&redis)
        .await
        .err()
        .expect("data without a layout is refused");
    assert!(
        matches!(foreign, StoreError::RedisForeign { .. }),
        "{foreign}"
    );
    let absent: Option<String> = conn.get("sb:layout").await.expect("GET");
    assert_eq!(absent, None, "a refused store is left as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_does_not_decode_is_an_error_naming_its_key() {
    let redis = RedisServer::start().await;
    let store = open(&redis).await.expect("a fresh store opens");
    let mut conn = connect(&redis).await;
    let () = conn
        .hset("sb:ws:bad", "w", "{not json")
        .await
        .expect("HSET");
    let error = within("load_workspace", store.load_workspace("bad"))
        .await
        .expect_err("bad JSON is an error");
    assert!(matches!(error, StoreError::RedisCorrupt { .. }), "{error}");
    assert!(error.to_string().contains("sb:ws:bad"), "{error}");

    let () = conn.set("sb:ws:string", "x").await.expect("SET");
    let error = within("load_workspace", store.load_workspace("string"))
        .await
        .expect_err("a key of another type is an error");
    assert!(error.to_string().contains("sb:ws:string"), "{error}");
}
