//! Writing the hub's changes through to the store, and rebuilding the hub from it.
//!
//! Order of every acknowledged change: `write` to the store (under the workspace lock,
//! before memory changes, so a failed write changes nothing), apply in memory, release
//! the lock, `commit` (await durability), and only then reply. Presence changes are
//! written but not awaited: they reach the disk within the store's flush interval.

use super::admission::Admission;
use super::workspace::{Member, State, Workspace};
use super::Hub;
use crate::core::conn::outbox::{CLOSE_SERVICE_RESTART, RECONNECT};
use crate::error::{Error, Outage, Result};
use crate::store::{Change, MemberRecord, Snapshot, WorkspaceRecord};
use indexmap::IndexMap;
use std::collections::HashMap;
use std::sync::Arc;

impl Hub {
    pub(super) fn write(&self, changes: &[Change]) -> Result<()> {
        self.store.apply(changes).map_err(|e| {
            tracing::error!("storage write failed: {e}");
            Error::Unavailable(Outage::Storage)
        })
    }

    /// Awaits durability of everything written so far.
    pub(super) async fn commit(&self) -> Result<()> {
        self.store.sync().await.map_err(|e| {
            tracing::error!("storage flush failed: {e}");
            Error::Unavailable(Outage::Storage)
        })
    }

    /// [`Hub::commit`] of a change already made in `workspace`'s memory. In a cluster, a
    /// change Redis did not take is undone by letting go of the workspace: memory would
    /// otherwise say what the store does not, until another node took it over from the
    /// store. Its members are closed with 1012; they re-attend, and its owner (this node
    /// still) loads it from Redis as it is.
    pub(super) async fn commit_change(&self, workspace: &Workspace) -> Result<()> {
        let committed = self.commit().await;
        if committed.is_err() && self.cluster.is_some() {
            self.unload(workspace);
        }
        committed
    }

    fn unload(&self, workspace: &Workspace) {
        let conns: Vec<_> = {
            let state = &mut *workspace.lock();
            state.live = false;
            state
                .members
                .values()
                .filter_map(|m| m.conn.clone())
                .collect()
        };
        self.registry_mut().remove(&workspace.id);
        for conn in conns {
            self.router.close(conn.id, CLOSE_SERVICE_RESTART, RECONNECT);
        }
        tracing::warn!(workspace = %workspace.id, "a change was not stored: the workspace is reloaded from the store when next needed");
    }

    /// Whether the store takes writes now: a flush of what is written answers in time.
    /// For `/readyz`.
    pub async fn store_ready(&self) -> bool {
        let flush = self.store.sync();
        matches!(
            tokio::time::timeout(std::time::Duration::from_secs(2), flush).await,
            Ok(Ok(()))
        )
    }

    /// Lets go of the store's files: the server has stopped.
    pub fn close_store(&self) {
        self.write_presence(&[Change::AliveAt(self.clock.now_ms())]);
        self.store.close();
    }

    /// A presence change: worth keeping, not worth failing or waiting for.
    pub(super) fn write_presence(&self, changes: &[Change]) {
        if let Err(e) = self.store.apply(changes) {
            tracing::warn!("storage write of presence failed: {e}");
        }
    }
}

impl State {
    pub fn record(&self, id: &str) -> WorkspaceRecord {
        self.record_with(id, &self.admission)
    }

    /// The record this workspace would have with `admission` in force: what is
    /// written before a change of admission rules takes effect.
    pub(super) fn record_with(&self, id: &str, admission: &Admission) -> WorkspaceRecord {
        WorkspaceRecord {
            id: id.to_string(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            pin_hash: admission.pin_hash.clone(),
            created_at: self.created_at,
            capacity: self.capacity,
            idle_since: self.idle_since,
            invite_version: admission.invite_version,
            bans: admission.ban_records(),
        }
    }
}

impl Member {
    pub(super) fn record(&self) -> MemberRecord {
        MemberRecord {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
            joined_at: self.joined_at,
            offline_since: self.offline_since,
            addr: self.addr,
        }
    }
}

/// The workspaces of a snapshot, everyone offline. Who was online when the server
/// stopped counts as offline (and their room as idle) from when it was last alive.
pub(super) fn restore(snapshot: Snapshot, now: u64, node: u64) -> HashMap<String, Arc<Workspace>> {
    let stopped_at = snapshot.alive_at.unwrap_or(now);
    snapshot
        .workspaces
        .into_iter()
        .map(|(ws, members)| {
            let id = ws.id.clone();
            let state = restore_state(ws, members, stopped_at);
            (id.clone(), Arc::new(Workspace::new(id, node, state)))
        })
        .collect()
}

/// One stored workspace, everyone offline since `stopped_at` at the latest.
pub(super) fn restore_state(
    ws: WorkspaceRecord,
    members: Vec<MemberRecord>,
    stopped_at: u64,
) -> State {
    let members: IndexMap<String, Member> = sorted(members)
        .into_iter()
        .map(|m| (m.id.clone(), restore_member(m, stopped_at)))
        .collect();
    State {
        name: ws.name,
        owner: ws.owner,
        admission: Admission::new(ws.pin_hash, ws.invite_version, ws.bans),
        capacity: ws.capacity,
        created_at: ws.created_at,
        members,
        call: None,
        live: true,
        idle_since: Some(ws.idle_since.unwrap_or(stopped_at)),
        replicas: Default::default(),
    }
}

/// Join order, the owner first, as the protocol lists attendees.
fn sorted(mut members: Vec<MemberRecord>) -> Vec<MemberRecord> {
    members.sort_by_key(|m| (m.role != crate::auth::Role::Owner, m.joined_at));
    members
}

fn restore_member(m: MemberRecord, stopped_at: u64) -> Member {
    Member {
        offline_since: Some(m.offline_since.unwrap_or(stopped_at)),
        id: m.id,
        name: m.name,
        role: m.role,
        joined_at: m.joined_at,
        conn: None,
        addr: m.addr,
        mic: None,
        cam: None,
    }
}
