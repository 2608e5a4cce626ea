//! The node's connections to Redis, and whether Redis answers.
//!
//! Three connections, each a `ConnectionManager` that reconnects by itself: `commands`
//! (the store's transactions, heartbeats, scripts), `bus` (PUBLISH only, so that a slow
//! store write never delays a relay, and publishes leave in the order they were made),
//! and the subscriber, on RESP3, whose messages arrive as push frames. Each waits a
//! bounded time for an answer: with Redis gone, a request fails within
//! [`RESPONSE_TIMEOUT`] instead of hanging, and reconnection is retried with a backoff
//! of at most [`MAX_BACKOFF`].

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// How long a command may take before it counts as failed.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest wait between two reconnection attempts: Redis back means routing back
/// within this (plus a heartbeat), well inside DESIGN.md's 5 s.
const MAX_BACKOFF: Duration = Duration::from_millis(500);

/// The connections of one node.
pub(crate) struct Connections {
    pub(crate) commands: ConnectionManager,
    pub(crate) bus: ConnectionManager,
    pub(crate) subscriber: ConnectionManager,
    /// What the subscriber receives: messages of its channels, and a `Disconnection`
    /// whenever its connection drops.
    pub(crate) pushes: UnboundedReceiver<PushInfo>,
}

/// Why Redis could not be reached at start.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach Redis at {location}: {cause}; check [cluster] redis_url (REDIS_URL) and that Redis runs")]
pub struct Unreachable {
    pub location: String,
    pub cause: String,
}

/// Opens the three connections; fails when Redis does not answer now, so that a node
/// never starts serving without its cluster.
pub(crate) async fn connect(url: &str, location: &str) -> Result<Connections, Unreachable> {
    let unreachable = |cause: String| Unreachable {
        location: location.to_string(),
        cause,
    };
    let info = url
        .into_connection_info()
        .map_err(|e| unreachable(e.to_string()))?;
    let resp3 = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let subscriber_info = info.clone().set_redis_settings(resp3);
    let client = redis::Client::open(info).map_err(|e| unreachable(e.to_string()))?;
    let sub_client =
        redis::Client::open(subscriber_info).map_err(|e| unreachable(e.to_string()))?;
    let (push_tx, pushes) = tokio::sync::mpsc::unbounded_channel();
    let subscriber_config = settings()
        .set_push_sender(push_tx)
        .set_automatic_resubscription();
    let open = async {
        Ok::<_, redis::RedisError>(Connections {
            commands: ConnectionManager::new_with_config(client.clone(), settings()).await?,
            bus: ConnectionManager::new_with_config(client, settings()).await?,
            subscriber: ConnectionManager::new_with_config(sub_client, subscriber_config).await?,
            pushes,
        })
    };
    match tokio::time::timeout(RESPONSE_TIMEOUT * 3, open).await {
        Ok(Ok(connections)) => Ok(connections),
        Ok(Err(e)) => Err(unreachable(e.to_string())),
        Err(_) => Err(unreachable("no answer within 6 s".to_string())),
    }
}

fn settings() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(MAX_BACKOFF)
        .set_number_of_retries(3)
}

/// Whether Redis answers: set by every heartbeat, and cleared at once when a PUBLISH
/// fails. Read by `/readyz`, the metrics, and every operation that needs Redis, which
/// answers `unavailable` at once rather than waiting out a timeout while it is down.
pub(crate) struct Health {
    up: AtomicBool,
    /// When Redis last came back: a failure of something sent before is old news.
    back_at: std::sync::Mutex<Option<std::time::Instant>>,
    /// The same, for those who wait until it goes down.
    watch: tokio::sync::watch::Sender<bool>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            up: AtomicBool::new(false),
            back_at: std::sync::Mutex::default(),
            watch: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl Health {
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records the outcome of a round trip; returns whether that changed anything.
    pub(crate) fn set(&self, up: bool) -> bool {
        let changed = self.up.swap(up, Ordering::Relaxed) != up;
        if changed && up {
            *self.back_at.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(std::time::Instant::now());
        }
        self.watch.send_replace(up);
        changed
    }

    /// A request sent at `sent` failed: Redis is down, unless it came back since (the
    /// request was stuck on a connection that had already gone). Returns whether that
    /// changed anything.
    pub(crate) fn failed(&self, sent: std::time::Instant) -> bool {
        let back_at = *self.back_at.lock().unwrap_or_else(|p| p.into_inner());
        if back_at.is_some_and(|back| back > sent) {
            return false;
        }
        self.set(false)
    }

    /// Resolves once Redis is down.
    pub(crate) async fn down(&self) {
        let mut watch = self.watch.subscribe();
        let _ = watch.wait_for(|up| !up).await;
    }
}
