//! The layout of the Redis store, checked and migrated before the first write.
//!
//! The same discipline as the sled store (`store/layout.rs`, `store/migrate.rs`), with
//! the number kept in Redis itself (`sb:layout`): a database with no `sb:` store keys
//! is new and gets the first layout; workspace keys without a layout number are not
//! ours, or were damaged, and are refused; a layout newer than this binary knows is
//! refused; an older one is migrated step by step, each step recorded before the next.
//! A refused database is left exactly as it was.

use super::keys::{LAYOUT, WORKSPACES, WORKSPACE_PREFIX};
use crate::store::StoreError;
use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, ErrorKind, RedisResult, ServerErrorKind};
use futures_util::future::BoxFuture;

/// The layout a new store starts at.
const FIRST: u32 = 1;

/// One migration: from the layout before `version` to `version`.
struct Step {
    version: u32,
    name: &'static str,
    apply: fn(ConnectionManager) -> BoxFuture<'static, RedisResult<()>>,
}

/// In order; each one's `version` is the layout it produces. Layout 1 is the first, so
/// there is no step yet: the first change of layout adds one here.
const STEPS: &[Step] = &[];

/// The layout this binary writes.
pub(crate) const CURRENT: u32 = if STEPS.is_empty() {
    FIRST
} else {
    STEPS[STEPS.len() - 1].version
};

/// Checks the layout, creating or migrating it; returns the layout now in force.
pub(super) async fn prepare(
    mut conn: ConnectionManager,
    location: &str,
) -> Result<u32, StoreError> {
    let unusable = |e: ::redis::RedisError| StoreError::RedisUnreachable {
        location: location.to_string(),
        cause: e.to_string(),
    };
    // Twice at most: a node that starts at the same time may create the layout between
    // our read and our write.
    for _ in 0..2 {
        let found = read_layout(&mut conn).await.map_err(unusable)?;
        let layout = match found {
            Some(text) => parse(&text, location)?,
            None if holds_workspaces(&mut conn).await.map_err(unusable)? => {
                return Err(StoreError::RedisForeign {
                    location: location.to_string(),
                })
            }
            None => match create(&mut conn).await.map_err(unusable)? {
                true => FIRST,
                false => continue,
            },
        };
        if layout > CURRENT {
            return Err(StoreError::RedisNewer {
                location: location.to_string(),
                found: layout,
                known: CURRENT,
            });
        }
        return migrate(conn, layout).await.map_err(unusable);
    }
    Err(StoreError::RedisUnreachable {
        location: location.to_string(),
        cause: "sb:layout vanished while this node read it".to_string(),
    })
}

/// How often a Redis that is loading its dataset is asked again.
const LOADING_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// `sb:layout`, once Redis has loaded its dataset: until then (just after Redis itself
/// started, while it reads its append-only file) it answers every command `LOADING`, and
/// no notice tells when it is done. The caller bounds the wait.
async fn read_layout(conn: &mut ConnectionManager) -> RedisResult<Option<String>> {
    loop {
        match conn.get(LAYOUT).await {
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::BusyLoading) => {
                tracing::info!("Redis is loading its dataset: waiting");
                tokio::time::sleep(LOADING_POLL).await;
            }
            read => return read,
        }
    }
}

fn parse(text: &str, location: &str) -> Result<u32, StoreError> {
    match text.trim().parse::<u32>() {
        Ok(layout) if layout >= FIRST => Ok(layout),
        _ => Err(StoreError::RedisCorrupt {
            location: location.to_string(),
            key: LAYOUT.to_string(),
            detail: format!("{:?} is not a layout number", prefix(text)),
        }),
    }
}

/// At most 32 characters of what was found, for a message.
fn prefix(text: &str) -> String {
    text.chars().take(32).collect()
}

/// Writes the first layout unless another node just did; whether this one did.
async fn create(conn: &mut ConnectionManager) -> RedisResult<bool> {
    let created: Option<String> = ::redis::cmd("SET")
        .arg(LAYOUT)
        .arg(FIRST)
        .arg("NX")
        .query_async(conn)
        .await?;
    if created.is_some() {
        tracing::info!(layout = FIRST, "Redis store created");
    }
    Ok(created.is_some())
}

/// Whether any workspace key or the workspace set exists. Other `sb:` keys (the
/// cluster's own) are not store data.
async fn holds_workspaces(conn: &mut ConnectionManager) -> RedisResult<bool> {
    if conn.exists(WORKSPACES).await? {
        return Ok(true);
    }
    let pattern = format!("{WORKSPACE_PREFIX}*");
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = ::redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await?;
        if !keys.is_empty() {
            return Ok(true);
        }
        if next == 0 {
            return Ok(false);
        }
        cursor = next;
    }
}

/// Runs every step above `from`, recording each layout reached before the next step.
async fn migrate(mut conn: ConnectionManager, from: u32) -> RedisResult<u32> {
    let mut layout = from;
    for step in STEPS.iter().filter(|s| s.version > from) {
        (step.apply)(conn.clone()).await?;
        let () = conn.set(LAYOUT, step.version).await?;
        tracing::info!(
            layout = step.version,
            step = step.name,
            "Redis store migrated"
        );
        layout = step.version;
    }
    Ok(layout)
}
