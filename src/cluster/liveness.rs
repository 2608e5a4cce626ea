//! Who is alive: every node writes a heartbeat every `heartbeat_secs` (a score in the
//! `sb:alive` sorted set, at Redis's own clock, and its name and member count in
//! `sb:nodes`), and reads back who else is. A node whose heartbeat is older than three
//! intervals is declared dead, once, by whichever node sees it first: it leaves both
//! keys, is marked in `sb:dead:<node>` (so that a node that was only cut off learns, when
//! it comes back, that the others have let go of it), and every node hears a
//! `NodeDead` on the shared channel.
//!
//! A node declares another dead only after it has itself been connected to Redis for
//! three intervals: after Redis restarts, every heartbeat is old, and the others need
//! one interval to write theirs again.

use super::control::Control;
use super::metrics::NodeSeen;
use super::Cluster;
use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// Writes this node's heartbeat; answers `{-1}` when the node was declared dead, else
/// `{stale nodes, live nodes, their descriptions}`.
static BEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', 'sb:dead:' .. ARGV[1]) == 1 then return {-1} end
redis.call('ZADD', 'sb:alive', now, ARGV[1])
redis.call('HSET', 'sb:nodes', ARGV[1], ARGV[2])
local oldest = now - tonumber(ARGV[3])
local stale = redis.call('ZRANGEBYSCORE', 'sb:alive', '-inf', '(' .. oldest)
local live = redis.call('ZRANGEBYSCORE', 'sb:alive', oldest, '+inf')
local about = {}
for i, n in ipairs(live) do about[i] = redis.call('HGET', 'sb:nodes', n) or '' end
return {stale, live, about}
"#,
    )
});

/// Declares node ARGV[1] dead and tells everyone (ARGV[2] is the `NodeDead` message);
/// answers 0 when someone else already had.
static BURY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local known = redis.call('ZREM', 'sb:alive', ARGV[1]) + redis.call('HDEL', 'sb:nodes', ARGV[1])
if known == 0 then return 0 end
redis.call('SET', 'sb:dead:' .. ARGV[1], '1', 'EX', 86400)
redis.call('PUBLISH', 'sb:all', ARGV[2])
return 1
"#,
    )
});

/// How soon a node that cannot reach Redis asks again.
const RETRY: Duration = Duration::from_millis(500);

/// What a node says of itself in `sb:nodes`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct About {
    /// `[cluster] node_id`.
    pub(crate) id: String,
    /// Members online here.
    pub(crate) members: u64,
}

/// The node's key in Redis: its number in hex, as in its channel's name.
pub(crate) fn key(node: u64) -> String {
    format!("{node:016x}")
}

/// One heartbeat's answer.
enum Beat {
    /// Another node declared this one dead while it could not reach Redis.
    Buried,
    Alive {
        stale: Vec<String>,
        live: Vec<(String, Option<About>)>,
    },
}

impl Cluster {
    /// Beats until the process ends: keeps [`Cluster::health`] and the node list
    /// current, and declares silent nodes dead.
    pub(crate) async fn heartbeat(self: Arc<Self>, members: impl Fn() -> u64) {
        let mut connected_since: Option<Instant> = None;
        loop {
            match self.round(members()).await {
                Ok(beat) => {
                    let since = *connected_since.get_or_insert_with(Instant::now);
                    if self.health.set(true) {
                        tracing::warn!(redis = %self.location, "Redis answers again");
                        self.on_redis_back();
                    }
                    self.after_beat(beat, since.elapsed()).await;
                    tokio::time::sleep(self.heartbeat).await;
                }
                Err(e) => {
                    connected_since = None;
                    if self.health.set(false) {
                        tracing::error!(redis = %self.location, "Redis does not answer: {e}; relaying between this node's members only");
                    }
                    // Down, the node asks again soon, so that it resumes within a
                    // fraction of a second of Redis coming back.
                    tokio::time::sleep(RETRY.min(self.heartbeat)).await;
                }
            }
        }
    }

    /// One heartbeat, and a ping on the bus's two other connections: a connection
    /// only finds out that Redis went away when it is next used, and each must have
    /// reconnected before the node counts as connected again.
    async fn round(&self, members: u64) -> redis::RedisResult<Beat> {
        let ping = |conn: &ConnectionManager| {
            let mut conn = conn.clone();
            async move { redis::cmd("PING").query_async::<()>(&mut conn).await }
        };
        let (beat, published, subscribed) = tokio::join!(
            self.beat(members),
            ping(&self.publisher),
            ping(&self.subscriber)
        );
        published?;
        subscribed?;
        beat
    }

    async fn beat(&self, members: u64) -> redis::RedisResult<Beat> {
        let about = serde_json::json!({"id": self.node_id, "members": members}).to_string();
        let stale_ms = 3 * self.heartbeat.as_millis() as u64;
        let mut conn = self.commands.clone();
        let answer: redis::Value = BEAT
            .arg(key(self.node))
            .arg(about)
            .arg(stale_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(read_beat(answer))
    }

    async fn after_beat(&self, beat: Beat, connected: Duration) {
        let (stale, live) = match beat {
            Beat::Buried => {
                self.rise_again().await;
                return;
            }
            Beat::Alive { stale, live } => (stale, live),
        };
        let seen = live
            .iter()
            .map(|(key, about)| NodeSeen {
                node_id: about.as_ref().map_or_else(|| key.clone(), |a| a.id.clone()),
                members: about.as_ref().map_or(0, |a| a.members),
            })
            .collect();
        self.metrics.set_nodes(seen);
        // Stale is not dead yet: a node is dead once buried (gone from both lists).
        let known: Vec<u64> = live
            .iter()
            .map(|(k, _)| k)
            .chain(&stale)
            .filter_map(|k| parse(k))
            .collect();
        self.forget_missing(&known);
        if connected >= 3 * self.heartbeat {
            for node in stale.iter().filter_map(|k| parse(k)) {
                if node != self.node {
                    self.bury(node).await;
                }
            }
        }
    }

    /// Declares `node` dead (idempotent across nodes).
    pub(crate) async fn bury(&self, node: u64) {
        let message = super::wire::control(&Control::NodeDead { node });
        let mut conn = self.commands.clone();
        let buried: redis::RedisResult<i64> = BURY
            .arg(key(node))
            .arg(message.as_ref())
            .invoke_async(&mut conn)
            .await;
        match buried {
            Ok(1) => {
                tracing::warn!(node = %key(node), "node declared dead: no heartbeat for three intervals")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(node = %key(node), "declaring a node dead failed: {e}"),
        }
    }

    /// The earlier runs of this node's `node_id`: a node restarted under its old name
    /// takes over from them at once instead of after three heartbeats.
    pub(crate) async fn bury_earlier_runs(&self) -> redis::RedisResult<()> {
        let mut conn = self.commands.clone();
        let nodes: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg("sb:nodes")
            .query_async(&mut conn)
            .await?;
        for (key, about) in nodes {
            let earlier = serde_json::from_str::<About>(&about).is_ok_and(|a| a.id == self.node_id);
            if let Some(node) = parse(&key).filter(|n| earlier && *n != self.node) {
                tracing::info!(node = %key, "an earlier run of this node_id: taking over from it");
                self.bury(node).await;
            }
        }
        Ok(())
    }

    /// Declared dead while cut off: the others have shown this node's members offline
    /// and taken its workspaces. Every connection is closed so that its clients
    /// re-attend (here or elsewhere), and the node joins again.
    async fn rise_again(&self) {
        tracing::error!("this node was declared dead while it could not reach Redis; closing every connection so that clients reconnect");
        self.on_buried();
        let mut conn = self.commands.clone();
        let cleared: redis::RedisResult<()> = redis::cmd("DEL")
            .arg(format!("sb:dead:{}", key(self.node)))
            .query_async(&mut conn)
            .await;
        if let Err(e) = cleared {
            tracing::warn!("rejoining the cluster failed: {e}");
        }
    }
}

fn parse(key: &str) -> Option<u64> {
    u64::from_str_radix(key, 16).ok()
}

fn read_beat(answer: redis::Value) -> Beat {
    use redis::Value;
    let Value::Array(parts) = answer else {
        return Beat::Alive {
            stale: Vec::new(),
            live: Vec::new(),
        };
    };
    if matches!(parts.first(), Some(Value::Int(-1))) {
        return Beat::Buried;
    }
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| redis::from_redis_value_ref::<String>(i).unwrap_or_default())
                .collect(),
            _ => Vec::new(),
        }
    };
    let stale = strings(parts.first());
    let live = strings(parts.get(1));
    let about = strings(parts.get(2));
    let live = live
        .into_iter()
        .zip(about.into_iter().map(|a| serde_json::from_str(&a).ok()))
        .collect();
    Beat::Alive { stale, live }
}
