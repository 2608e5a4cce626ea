//! The embedded default store: sled, one directory, one process at a time.
//!
//! Records are JSON under prefixed keys (layout in `migrations/v0001_initial.rs`). Every
//! slice of changes is one atomic batch; `sync` is sled's flush (an fsync), which the hub
//! awaits before acknowledging a change.

use super::layout::{self, Guarded};
use super::{
    migrate, ready, Change, MemberRecord, Snapshot, Store, StoreError, StoredWorkspace,
    WorkspaceRecord,
};
use futures_util::future::BoxFuture;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

const ALIVE_KEY: &[u8] = b"meta/alive_at";
/// sled's page cache; the store holds metadata only, so a small cache holds all of it.
const CACHE_BYTES: u64 = 64 << 20;
/// Changes not explicitly synced (presence) reach the disk within this interval.
const FLUSH_EVERY_MS: u64 = 200;

pub struct SledStore {
    path: std::path::PathBuf,
    /// `None` once closed. The lock is uncontended but for `close` itself.
    open: RwLock<Option<Open>>,
    commits: Arc<GroupCommit>,
}

/// Group commit: concurrent `sync`s share flushes. A flush makes durable every batch
/// applied before it began, so whoever waits for a running flush and finds their
/// batches covered by it returns without an fsync of their own.
#[derive(Default)]
struct GroupCommit {
    /// Batches applied so far.
    applied: AtomicU64,
    /// Batches known to be on disk.
    durable: AtomicU64,
    /// Held while a flush runs.
    flushing: tokio::sync::Mutex<()>,
}

impl GroupCommit {
    async fn sync(&self, db: ::sled::Db) -> Result<(), StoreError> {
        let target = self.applied.load(Ordering::Acquire);
        if self.durable.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let _flushing = self.flushing.lock().await;
        if self.durable.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let covered = self.applied.load(Ordering::Acquire);
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .map_err(backend)?;
        self.durable.fetch_max(covered, Ordering::AcqRel);
        Ok(())
    }
}

struct Open {
    db: ::sled::Db,
    _guard: Guarded,
}

impl SledStore {
    pub fn open(path: &Path) -> Result<SledStore, StoreError> {
        let guard = layout::guard(path)?;
        let db = open_db(path).map_err(|e| match e {
            ::sled::Error::Io(source) => StoreError::Io {
                path: path.to_path_buf(),
                cause: source,
            },
            other => StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
        migrate::run(&db, guard.layout, |layout| {
            layout::write_marker(path, layout)
        })
        .map_err(|detail| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        })?;
        Ok(SledStore {
            path: path.to_path_buf(),
            open: RwLock::new(Some(Open { db, _guard: guard })),
            commits: Arc::default(),
        })
    }

    fn db(&self) -> Result<::sled::Db, StoreError> {
        let open = self.open.read().unwrap_or_else(|p| p.into_inner());
        open.as_ref()
            .map(|o| o.db.clone())
            .ok_or_else(|| StoreError::Backend("the store is closed".into()))
    }
}

pub(super) fn open_db(path: &Path) -> ::sled::Result<::sled::Db> {
    ::sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(Some(FLUSH_EVERY_MS))
        .open()
}

/// Every record of the current layout, decoded; the error names the first bad key.
pub(super) fn decode_all(db: &::sled::Db) -> Result<Snapshot, String> {
    let mut snapshot = Snapshot::default();
    for item in db.scan_prefix(b"w/") {
        let (key, value) = item.map_err(|e| e.to_string())?;
        snapshot.workspaces.push(with_members(db, &key, &value)?);
    }
    snapshot.alive_at = db
        .get(ALIVE_KEY)
        .map_err(|e| e.to_string())?
        .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes));
    Ok(snapshot)
}

/// The workspace record under `key`, decoded, with its memberships.
fn with_members(db: &::sled::Db, key: &[u8], value: &[u8]) -> Result<StoredWorkspace, String> {
    let ws: WorkspaceRecord = decode(key, value)?;
    let mut members = Vec::new();
    for item in db.scan_prefix(member_prefix(&ws.id)) {
        let (key, value) = item.map_err(|e| e.to_string())?;
        members.push(decode::<MemberRecord>(&key, &value)?);
    }
    Ok((ws, members))
}

fn decode<T: serde::de::DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, String> {
    serde_json::from_slice(value).map_err(|e| {
        format!(
            "record {} does not decode: {e}",
            String::from_utf8_lossy(key)
        )
    })
}

fn member_prefix(wid: &str) -> Vec<u8> {
    format!("m/{wid}/").into_bytes()
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn backend(e: ::sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SledStore {
    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            detail,
        }
    }

    fn workspace(&self, wid: &str) -> Result<Option<StoredWorkspace>, StoreError> {
        let db = self.db()?;
        let key = format!("w/{wid}");
        match db.get(key.as_bytes()).map_err(backend)? {
            Some(value) => with_members(&db, key.as_bytes(), &value)
                .map(Some)
                .map_err(|detail| self.corrupt(detail)),
            None => Ok(None),
        }
    }

    fn ids(&self) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for key in self.db()?.scan_prefix(b"w/").keys() {
            let key = key.map_err(backend)?;
            let id = std::str::from_utf8(&key[2..])
                .map_err(|_| self.corrupt(format!("key {key:?} is not UTF-8")))?;
            ids.push(id.to_string());
        }
        Ok(ids)
    }
}

impl Store for SledStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        decode_all(&self.db()?).map_err(|detail| self.corrupt(detail))
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut batch = ::sled::Batch::default();
        for change in changes {
            match change {
                Change::PutWorkspace(ws) => {
                    batch.insert(format!("w/{}", ws.id).as_bytes(), json(ws)?)
                }
                Change::DropWorkspace(wid) => {
                    for key in db.scan_prefix(member_prefix(wid)).keys() {
                        batch.remove(key.map_err(backend)?);
                    }
                    batch.remove(format!("w/{wid}").as_bytes());
                }
                Change::PutMember(wid, m) => {
                    batch.insert(format!("m/{wid}/{}", m.id).as_bytes(), json(m)?)
                }
                Change::DropMember(wid, aid) => batch.remove(format!("m/{wid}/{aid}").as_bytes()),
                Change::AliveAt(t) => batch.insert(ALIVE_KEY, &t.to_be_bytes()),
            }
        }
        db.apply_batch(batch).map_err(backend)?;
        self.commits.applied.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// sled's blocking flush, on the blocking pool and shared between concurrent
    /// callers. (sled's own `flush_async` stalls forever under concurrent callers: seen
    /// with 16 clients creating at once.)
    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let db = self.db();
        let commits = self.commits.clone();
        Box::pin(async move { commits.sync(db?).await })
    }

    /// Read at once: sled holds the store in its page cache, and the store is small.
    fn load_workspace(
        &self,
        wid: &str,
    ) -> BoxFuture<'static, Result<Option<StoredWorkspace>, StoreError>> {
        ready(self.workspace(wid))
    }

    fn workspace_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        ready(self.ids())
    }

    fn close(&self) {
        let open = self.open.write().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(open) = open {
            if let Err(e) = open.db.flush() {
                tracing::error!(path = %self.path.display(), "storage flush at close failed: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{member, workspace};

    #[tokio::test]
    async fn the_sled_store_loads_one_workspace_and_lists_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        store
            .apply(&[
                Change::PutWorkspace(workspace("a")),
                Change::PutWorkspace(workspace("ab")),
                Change::PutMember("a".into(), member("m1")),
                Change::PutMember("ab".into(), member("m2")),
            ])
            .unwrap();
        let (ws, members) = store.load_workspace("a").await.unwrap().unwrap();
        assert_eq!((ws, members), (workspace("a"), vec![member("m1")]));
        assert!(store.load_workspace("b").await.unwrap().is_none());
        assert_eq!(store.workspace_ids().await.unwrap(), vec!["a", "ab"]);
        store.apply(&[Change::DropWorkspace("a".into())]).unwrap();
        assert!(store.load_workspace("a").await.unwrap().is_none());
    }
}
