//! Storage: what must survive a restart, behind one trait.
//!
//! The hub keeps the live state in memory and writes every change through to a
//! [`Store`] before acknowledging it. Stored: workspaces (with their invite version and
//! bans) and memberships (a membership's existence is what keeps its session tokens
//! valid, and ids are never reused, so removing it revokes them). Not stored: sockets,
//! relayed signals, mic/cam state and the current call; the relay path never touches
//! the store.

mod layout;
mod memory;
mod migrate;
mod redis;
mod sled;
mod timed;

pub use self::redis::RedisStore;
pub use self::sled::SledStore;
pub(crate) use layout::is_store_or_fresh;
pub use memory::MemoryStore;

use crate::auth::Role;
use crate::config::{StorageBackend, StorageConfig};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRecord {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub pin_hash: Option<String>,
    /// Unix ms.
    pub created_at: u64,
    pub capacity: usize,
    /// Unix ms since when nobody has been online; `None` while someone is.
    pub idle_since: Option<u64>,
    /// Invites of an older version are refused. Layout 1 had none: version 0.
    #[serde(default)]
    pub invite_version: u64,
    /// Addresses refused at `attend`, oldest first. Layout 1 had none.
    #[serde(default)]
    pub bans: Vec<BanRecord>,
}

/// An address refused at `attend` until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    /// The address key (IPv6 by its /64), never the full IPv6 address.
    pub addr: IpAddr,
    /// Unix ms.
    pub until: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// Unix ms.
    pub joined_at: u64,
    /// Unix ms since when the member has been offline; `None` while online.
    pub offline_since: Option<u64>,
    /// The client address the member last connected from, which a ban refuses when the
    /// member is kicked while offline. Layout 1 did not keep it.
    #[serde(default)]
    pub addr: Option<IpAddr>,
}

/// One change; a slice of them is applied atomically.
#[derive(Debug, Clone)]
pub enum Change {
    PutWorkspace(WorkspaceRecord),
    /// The workspace and all its memberships.
    DropWorkspace(String),
    PutMember(String, MemberRecord),
    DropMember(String, String),
    /// The server was alive at this unix ms: after a crash, members who were online
    /// count as offline from here.
    AliveAt(u64),
}

/// One workspace and its memberships.
pub type StoredWorkspace = (WorkspaceRecord, Vec<MemberRecord>);

#[derive(Debug, Default)]
pub struct Snapshot {
    pub workspaces: Vec<StoredWorkspace>,
    pub alive_at: Option<u64>,
}

pub trait Store: Send + Sync {
    /// Everything stored, to rebuild the hub at start.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies `changes` atomically. They are durable once a later [`Store::sync`]
    /// resolves.
    fn apply(&self, changes: &[Change]) -> Result<(), StoreError>;
    /// Resolves when everything applied so far is on disk.
    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>>;
    /// One workspace and its memberships, as durable so far; `None` when there is none.
    /// A cluster node loads each workspace when it takes it over.
    fn load_workspace(
        &self,
        wid: &str,
    ) -> BoxFuture<'static, Result<Option<StoredWorkspace>, StoreError>>;
    /// The ids of every stored workspace, in no particular order (listing, expiry).
    fn workspace_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>>;
    /// Flushes and lets go of the files (and their lock), so that another server may
    /// open them; later calls fail. Dropping the store does the same.
    fn close(&self) {}
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "storage at {path} is locked by another running Switchboard; stop it first, or \
         give this one its own storage.path"
    )]
    Locked { path: PathBuf },
    #[error(
        "storage at {path} is corrupt ({detail}); it was left untouched. Restore it from a \
         backup, or move it aside to start with an empty store"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "storage at {path} was written by a newer Switchboard (layout {found}; this binary \
         knows layouts up to {known}); it was left untouched. Run the newer version, or \
         point storage.path elsewhere"
    )]
    Newer {
        path: PathBuf,
        found: u32,
        known: u32,
    },
    #[error(
        "{path} is not empty and is not a Switchboard store (no {marker}); point \
         storage.path at an empty or new directory"
    )]
    Foreign { path: PathBuf, marker: &'static str },
    #[error(
        "cannot check storage at {path} before opening it: copying it to {scratch} failed \
         ({cause}); point TMPDIR at a writable directory with room for a copy of the store"
    )]
    Check {
        path: PathBuf,
        scratch: PathBuf,
        cause: std::io::Error,
    },
    #[error("storage at {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the Redis store at {location} was written by a newer Switchboard (layout {found}; \
         this binary knows layouts up to {known}); it was left untouched. Run the newer \
         version on every node, or point [cluster] redis_url (REDIS_URL) elsewhere"
    )]
    RedisNewer {
        location: String,
        found: u32,
        known: u32,
    },
    #[error(
        "Redis at {location} holds workspace keys (sb:ws:*) but no sb:layout: it is not a \
         Switchboard store, or it was damaged; it was left untouched. Point [cluster] \
         redis_url (REDIS_URL) at an empty database (e.g. redis://host:6379/1), or restore \
         the store from a backup"
    )]
    RedisForeign { location: String },
    #[error(
        "cannot use Redis at {location} ({cause}); check that it runs and that [cluster] \
         redis_url (REDIS_URL) points at it, with its password if it has one"
    )]
    RedisUnreachable { location: String, cause: String },
    #[error(
        "the Redis store at {location} holds a record that does not decode ({key}: \
         {detail}); it was left untouched. Restore that key from a backup, or delete it to \
         give up what it held"
    )]
    RedisCorrupt {
        location: String,
        key: String,
        detail: String,
    },
    #[error("storage failed: {0}")]
    Backend(String),
}

/// Opens the configured backend: its layout checked and migrated, ready for `load`.
pub fn open(config: &StorageConfig) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match config.backend {
        StorageBackend::Memory => Arc::new(MemoryStore::default()),
        StorageBackend::Sled => Arc::new(SledStore::open(&config.path)?),
        // It needs the cluster's Redis connection, which only the cluster has.
        StorageBackend::Redis => {
            return Err(StoreError::Backend(
                "the Redis store is opened by the cluster, with its connection \
                 (RedisStore::open), not from [storage]"
                    .to_string(),
            ))
        }
    })
}

/// [`open`], with every write and flush timed into `counters`.
pub fn open_timed(
    config: &StorageConfig,
    counters: &crate::core::counters::Counters,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(timed(open(config)?, counters))
}

/// `inner`, with every write and flush timed into `counters`: for a store opened
/// elsewhere (the cluster opens its [`RedisStore`] itself, asynchronously).
pub fn timed(inner: Arc<dyn Store>, counters: &crate::core::counters::Counters) -> Arc<dyn Store> {
    Arc::new(timed::Timed {
        inner,
        write: counters.store_write.clone(),
        flush: counters.store_flush.clone(),
    })
}

/// A future that is already done: what the stores that hold everything at hand return.
fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(std::future::ready(value))
}

/// Records for the backends' tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::{MemberRecord, WorkspaceRecord};
    use crate::auth::Role;

    pub(crate) fn workspace(id: &str) -> WorkspaceRecord {
        WorkspaceRecord {
            id: id.into(),
            name: "room".into(),
            owner: "o".into(),
            pin_hash: None,
            created_at: 1,
            capacity: 4,
            idle_since: None,
            invite_version: 0,
            bans: Vec::new(),
        }
    }

    pub(crate) fn member(id: &str) -> MemberRecord {
        MemberRecord {
            id: id.into(),
            name: id.into(),
            role: Role::Attendee,
            joined_at: 2,
            offline_since: None,
            addr: None,
        }
    }
}
