//! The in-memory store: state lives as long as the process (tests, ephemeral servers).
//! It keeps the records the hub writes, so that a hub rebuilt on the same store (as a
//! restart would) sees them, which lets the write-through logic be tested without disk.

use super::{Change, MemberRecord, Snapshot, Store, StoreError, WorkspaceRecord};
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

impl Store for MemoryStore {
    fn load(&self) -> Result<Snapshot, StoreError> {
        let tables = self.tables();
        let workspaces = tables
            .workspaces
            .values()
            .map(|ws| {
                let members = tables
                    .members
                    .iter()
                    .filter(|((wid, _), _)| *wid == ws.id)
                    .map(|(_, m)| m.clone())
                    .collect();
                (ws.clone(), members)
            })
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
        Box::pin(std::future::ready(Ok(())))
    }
}

impl MemoryStore {
    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
