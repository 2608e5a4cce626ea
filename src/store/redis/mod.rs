//! The cluster's store: workspaces in the Redis that every node shares.
//!
//! Each workspace is one hash, `sb:ws:{wid}`, with the workspace record in field `w`
//! and each membership in field `m:{attendee_id}`, all JSON; `sb:workspaces` is the set
//! of their ids; `sb:layout` the layout number (see `keys.rs` and `layout.rs`). One
//! `apply` becomes one MULTI/EXEC, so a slice of changes lands whole or not at all.
//!
//! `apply` must not wait (the hub calls it under a workspace lock), so it only queues
//! the transaction; one writer task sends them in order (`writer.rs`). `sync` resolves
//! once Redis has answered for everything applied before it (with `appendfsync always`,
//! that is on disk), and fails, never hangs, within [`SYNC_TIMEOUT`] when Redis does not
//! answer. A lost transaction is dropped, not retried: it fails the syncs that answer
//! for it, and a later write never lands before it. When more than [`QUEUE`] batches
//! wait (Redis away for long), `apply` fails at once rather than grow.
//!
//! `Change::AliveAt` is not stored: it tells a restarting server since when its members
//! were offline, a notion of one node. In a cluster the members of a node that died
//! count offline from when another node takes their workspace over; the store keeps no
//! per-node time. And a node starts with no workspace in memory, each loaded when the
//! node takes it over, so `load` is empty: [`Store::load_workspace`] does the work.
//!
//! The connection is the cluster's [`ConnectionManager`]; [`RedisStore::manager_config`]
//! gives the settings the store relies on.

mod keys;
mod layout;
mod writer;

use super::{Change, Snapshot, Store, StoreError, StoredWorkspace};
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Cmd, FromRedisValue, RedisError, RedisResult};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use writer::{Ledger, Lost, Queue};

/// The longest `sync` (and a read) waits for Redis before it fails. The hub answers
/// `unavailable` then; `/readyz` gives the store 2 s, so it reports an outage too.
const SYNC_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest `open` waits for Redis to answer the layout check.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// Batches (and sync probes) that may wait for the writer; beyond, `apply` fails.
const QUEUE: usize = 10_000;
/// The most batches the writer sends in one transaction.
const GROUP: usize = 256;

/// A [`Store`] on Redis; see the module doc.
pub struct RedisStore {
    conn: ConnectionManager,
    /// The Redis URL without its password, for messages.
    location: String,
    queue: Queue,
    ledger: Arc<Ledger>,
}

impl RedisStore {
    /// See [`SYNC_TIMEOUT`].
    pub const SYNC_TIMEOUT: Duration = SYNC_TIMEOUT;
    /// See [`QUEUE`].
    pub const QUEUE: usize = QUEUE;

    /// Checks the layout in Redis (creating it in an empty database, migrating an older
    /// one; refusing a newer, foreign or damaged one), then starts the writer task.
    /// `location` names Redis in messages: the URL without its password
    /// (`ClusterConfig::redis_display`).
    ///
    /// Errors: [`StoreError::RedisUnreachable`] when Redis does not answer within
    /// [`OPEN_TIMEOUT`]; `RedisNewer`, `RedisForeign`, `RedisCorrupt` as the layout is.
    pub async fn open(conn: ConnectionManager, location: String) -> Result<RedisStore, StoreError> {
        let checked = tokio::time::timeout(OPEN_TIMEOUT, layout::prepare(conn.clone(), &location));
        let layout = checked.await.map_err(|_| StoreError::RedisUnreachable {
            location: location.clone(),
            cause: format!("no answer within {} s", OPEN_TIMEOUT.as_secs()),
        })??;
        tracing::info!(%location, layout, "Redis store open");
        let (queue, rx, queued) = Queue::new(QUEUE);
        let ledger = Arc::new(Ledger::default());
        tokio::spawn(writer::run(rx, conn.clone(), ledger.clone(), queued));
        Ok(RedisStore {
            conn,
            location,
            queue,
            ledger,
        })
    }

    /// Settings for the cluster's [`ConnectionManager`] that suit the store: answers
    /// bounded below [`SYNC_TIMEOUT`] (a stuck request fails with its own cause rather
    /// than the store's timeout), connection attempts of at most 1 s, and retries at
    /// most 1 s apart (2 s with jitter), so that writes resume soon after Redis is back.
    /// The retries stay bounded (the manager's default count), so that connecting at
    /// start fails rather than waits forever; once they are spent, the store's next
    /// command starts them again and is tried once more itself.
    pub fn manager_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_max_delay(Duration::from_secs(1))
    }

    fn error(&self, lost: Lost) -> StoreError {
        error(&self.location, lost)
    }
}

fn error(location: &str, lost: Lost) -> StoreError {
    let location = location.to_string();
    match lost {
        Lost::Unreachable(cause) => StoreError::RedisUnreachable { location, cause },
        Lost::Refused(cause) => {
            StoreError::Backend(format!("Redis at {location} refused a write: {cause}"))
        }
        Lost::Full => StoreError::Backend(format!(
            "Redis at {location} has not taken writes for a while: {QUEUE} batches wait"
        )),
        Lost::Closed => StoreError::Backend("the store is closed".to_string()),
    }
}

/// A failed read of `key`: Redis away, or a key of the wrong type (not ours).
fn read_error(location: &str, key: &str, e: RedisError) -> StoreError {
    match e.code() {
        Some("WRONGTYPE") => StoreError::RedisCorrupt {
            location: location.to_string(),
            key: key.to_string(),
            detail: "the key is of another type".to_string(),
        },
        _ => StoreError::RedisUnreachable {
            location: location.to_string(),
            cause: e.to_string(),
        },
    }
}

/// `cmd`'s answer, asked once more when no connection could be made (nothing was
/// sent; see `writer::send`).
async fn query<T: FromRedisValue>(conn: &mut ConnectionManager, cmd: &Cmd) -> RedisResult<T> {
    match cmd.query_async(conn).await {
        Err(e) if e.is_connection_refusal() => cmd.query_async(conn).await,
        other => other,
    }
}

/// `read`, failing with [`StoreError::RedisUnreachable`] after [`SYNC_TIMEOUT`].
async fn bounded<T>(
    location: &str,
    read: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(SYNC_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::RedisUnreachable {
                location: location.to_string(),
                cause: format!("no answer within {} s", SYNC_TIMEOUT.as_secs()),
            })
        })
}

impl Store for RedisStore {
    /// Empty: a cluster node starts with no workspace in memory and loads each one
    /// ([`Store::load_workspace`]) when it takes it over.
    fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot::default())
    }

    /// Queues `changes` as one transaction; never waits. Fails at once when [`QUEUE`]
    /// batches already wait, or the store is closed.
    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let cmds = keys::commands(changes).map_err(|e| StoreError::Backend(e.to_string()))?;
        if cmds.is_empty() {
            return Ok(());
        }
        self.queue
            .push(cmds)
            .map(drop)
            .map_err(|lost| self.error(lost))
    }

    /// Resolves once Redis has answered for every batch applied before the call; fails
    /// within [`SYNC_TIMEOUT`] when it does not, or when one of them was lost (see
    /// `writer.rs` for which losses a sync answers for).
    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let probe = self.queue.push(Vec::new());
        let ledger = self.ledger.clone();
        let location = self.location.clone();
        Box::pin(async move {
            let probe = probe.map_err(|lost| error(&location, lost))?;
            ledger
                .settled(probe)
                .await
                .map_err(|lost| error(&location, lost))
        })
    }

    /// One HGETALL. A hash without a workspace record is no workspace.
    fn load_workspace(
        &self,
        wid: &str,
    ) -> BoxFuture<'static, Result<Option<StoredWorkspace>, StoreError>> {
        let mut conn = self.conn.clone();
        let location = self.location.clone();
        let (wid, key) = (wid.to_string(), keys::workspace_key(wid));
        Box::pin(async move {
            bounded(&location, async {
                let fields: HashMap<Vec<u8>, Vec<u8>> = query(&mut conn, &Cmd::hgetall(&key))
                    .await
                    .map_err(|e| read_error(&location, &key, e))?;
                keys::decode(&wid, fields).map_err(|detail| StoreError::RedisCorrupt {
                    location: location.clone(),
                    key: key.clone(),
                    detail,
                })
            })
            .await
        })
    }

    /// One SMEMBERS.
    fn workspace_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        let mut conn = self.conn.clone();
        let location = self.location.clone();
        Box::pin(async move {
            bounded(&location, async {
                let ids: Vec<Vec<u8>> = query(&mut conn, &Cmd::smembers(keys::WORKSPACES))
                    .await
                    .map_err(|e| read_error(&location, keys::WORKSPACES, e))?;
                ids.into_iter()
                    .map(|id| {
                        String::from_utf8(id).map_err(|_| StoreError::RedisCorrupt {
                            location: location.clone(),
                            key: keys::WORKSPACES.to_string(),
                            detail: "a member is not UTF-8".to_string(),
                        })
                    })
                    .collect()
            })
            .await
        })
    }

    /// Takes no more batches; the writer ends once it has sent those queued.
    fn close(&self) {
        self.queue.close();
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        self.queue.close();
    }
}
