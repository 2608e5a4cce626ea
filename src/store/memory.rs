//! The in-memory store: state lives as long as the process (tests, ephemeral servers).
//! It keeps the records the hub writes, so that a hub rebuilt on the same store (as a
//! restart would) sees them, which lets the write-through logic be tested without disk.

use super::{
    ready, Change, MemberRecord, Snapshot, Store, StoreError, StoredWorkspace, WorkspaceRecord,
};
use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<Tables>,
}

#[derive(Default)]
struct Tables {
    workspaces: BTreeMap<String, WorkspaceRecord>,
    /// Keyed by (workspace id, attendee id).
    members: BTreeMap<(String, String), MemberRecord>,
    alive_at: Option<u64>,
}

impl Tables {
    fn workspace(&self, wid: &str) -> Option<StoredWorkspace> {
        let ws = self.workspaces.get(wid)?;
        let members = self
            .members
            .range((wid.to_string(), String::new())..)
            .take_while(|((w, _), _)| w == wid)
            .map(|(_, m)| m.clone())
            .collect();
        Some((ws.clone(), members))
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let tables = self.tables();
        let workspaces = tables
            .workspaces
            .keys()
            .filter_map(|wid| tables.workspace(wid))
            .collect();
        Ok(Snapshot {
            workspaces,
            alive_at: tables.alive_at,
        })
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let mut tables = self.tables();
        for change in changes {
            match change {
                Change::PutWorkspace(ws) => {
                    tables.workspaces.insert(ws.id.clone(), ws.clone());
                }
                Change::DropWorkspace(wid) => {
                    tables.workspaces.remove(wid);
                    tables.members.retain(|(w, _), _| w != wid);
                }
                Change::PutMember(wid, m) => {
                    tables
                        .members
                        .insert((wid.clone(), m.id.clone()), m.clone());
                }
                Change::DropMember(wid, aid) => {
                    tables.members.remove(&(wid.clone(), aid.clone()));
                }
                Change::AliveAt(t) => tables.alive_at = Some(*t),
            }
        }
        Ok(())
    }

    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        ready(Ok(()))
    }

    fn load_workspace(
        &self,
        wid: &str,
    ) -> BoxFuture<'static, Result<Option<StoredWorkspace>, StoreError>> {
        ready(Ok(self.tables().workspace(wid)))
    }

    fn workspace_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        ready(Ok(self.tables().workspaces.keys().cloned().collect()))
    }
}

impl MemoryStore {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{member, workspace};

    #[tokio::test]
    async fn the_memory_store_loads_one_workspace_and_lists_ids() {
        let store = MemoryStore::default();
        store
            .apply(&[
                Change::PutWorkspace(workspace("a")),
                Change::PutWorkspace(workspace("ab")),
                Change::PutMember("a".into(), member("m1")),
                Change::PutMember("ab".into(), member("m2")),
            ])
            .unwrap();
        let (ws, members) = store.load_workspace("a").await.unwrap().unwrap();
        assert_eq!(ws, workspace("a"));
        assert_eq!(members, vec![member("m1")]);
        assert!(store.load_workspace("b").await.unwrap().is_none());
        assert_eq!(store.workspace_ids().await.unwrap(), vec!["a", "ab"]);
    }
}
