//! The cluster (docs/cluster.md): several nodes, in this process, sharing one real
//! `redis-server` started on a free port. What a member on one node does reaches
//! members on the others, in every protocol; capacity, PIN limits and bans hold across
//! nodes; nodes and Redis fail and come back.

#[path = "../common/mod.rs"]
mod common;

mod failures;
mod operations;
mod peers;
mod workspaces;

use common::redis::RedisServer;
use common::*;
use switchboard::config::{Config, StorageBackend};

/// `count` nodes of one cluster on `redis`, each adjusted by `mutate` (given its index).
async fn nodes(
    redis: &RedisServer,
    count: usize,
    mutate: impl Fn(usize, &mut Config),
) -> Vec<TestApp> {
    let mut apps = Vec::with_capacity(count);
    for index in 0..count {
        apps.push(node(redis, &format!("node-{index}"), |c| mutate(index, c)).await);
    }
    apps
}

/// One node named `node_id` on `redis`.
async fn node(redis: &RedisServer, node_id: &str, mutate: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|c| {
        c.cluster.redis_url = Some(redis.url());
        c.cluster.node_id = Some(node_id.to_string());
        c.cluster.heartbeat_secs = 1;
        c.storage.backend = StorageBackend::Redis;
        mutate(c);
    })
    .await
}
