//! Lifetimes: offline members leave after `offline_ttl_secs`, a workspace with nobody
//! online for `idle_ttl_secs` is deleted, and bans are forgotten once they run out. One
//! sweep visits every workspace; it is cheap (a lock and a scan of at most
//! `max_capacity` members and 256 bans each) and runs once a second.

use super::membership::end;
use super::Hub;
use crate::auth::Role;
use crate::core::event::{LeaveReason, Push};
use crate::store::Change;
use std::sync::Arc;
use std::time::Duration;

/// How often a cluster looks for workspaces nobody owns.
const ORPHAN_SWEEP: Duration = Duration::from_secs(60);

impl Hub {
    /// Applies every ttl that has run out by `now` (unix ms). The owner is never timed
    /// out of their own workspace: it lives on until destroyed or idle.
    pub fn sweep(&self, now: u64) {
        let offline_ttl = self.config.workspace.offline_ttl_secs * 1000;
        let idle_ttl = self.config.workspace.idle_ttl_secs * 1000;
        let workspaces = self.owned();
        for workspace in workspaces {
            let mut state = workspace.lock();
            if state.admission.prune(now) {
                self.write_presence(&[Change::PutWorkspace(state.record(&workspace.id))]);
            }
            let expired: Vec<String> = state
                .members
                .values()
                .filter(|m| m.role != Role::Owner)
                .filter(|m| {
                    m.offline_since
                        .is_some_and(|t| now.saturating_sub(t) >= offline_ttl)
                })
                .map(|m| m.id.clone())
                .collect();
            for id in expired {
                if self
                    .write(&[Change::DropMember(workspace.id.clone(), id.clone())])
                    .is_err()
                {
                    continue;
                }
                let name = state.remove_member(&id, now).map(|m| m.name);
                let left = Push::AttendeeLeft {
                    attendee_id: id.clone(),
                    name: name.unwrap_or_default(),
                    reason: LeaveReason::Timeout,
                };
                self.announce(&workspace.id, &mut state, &left, &id);
                tracing::info!(workspace = %workspace.id, attendee = %id, "offline attendee timed out");
            }
            let idle = state
                .idle_since
                .is_some_and(|t| now.saturating_sub(t) >= idle_ttl);
            if idle
                && self
                    .write(&[Change::DropWorkspace(workspace.id.clone())])
                    .is_ok()
            {
                end(&mut state);
                self.replicate(&workspace.id, &mut state);
                drop(state);
                self.forget(&workspace.id);
                tracing::info!(workspace = %workspace.id, "idle workspace deleted");
            }
        }
        self.write_presence(&[Change::AliveAt(now)]);
        let now = self.clock.now();
        self.creates.prune(now);
        self.invite_lookups.prune(now);
        self.pin_limits.prune(now);
    }

    /// Sweeps once a second until the hub is dropped by everyone else; in a cluster,
    /// adopts the orphans when the node joins, and once every [`ORPHAN_SWEEP`] (one
    /// node of the cluster does).
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let hub = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for second in 0u64.. {
                tick.tick().await;
                let Some(hub) = hub.upgrade() else { return };
                hub.sweep(hub.clock.now_ms());
                // At once on joining (the node may be the first alive in a while), then
                // by one node of the cluster at a time.
                if second % ORPHAN_SWEEP.as_secs() == 0 {
                    hub.adopt_orphans(second == 0).await;
                }
            }
        })
    }

    /// Takes over the workspaces that no live node owns (their owner died with nobody
    /// left to claim them), so that their ttls run out somewhere: the sweep above then
    /// deletes what is idle.
    async fn adopt_orphans(&self, joining: bool) {
        let Some(cluster) = self.cluster.as_ref().filter(|c| c.redis_up()) else {
            return;
        };
        if !joining && !cluster.take_sweep(ORPHAN_SWEEP).await.unwrap_or(false) {
            return;
        }
        let orphans = match self.store.workspace_ids().await {
            Ok(ids) => cluster.orphans(&ids).await.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("listing the stored workspaces failed: {e}");
                return;
            }
        };
        for wid in orphans {
            if let Err(e) = self.locate(&wid).await {
                tracing::debug!(workspace = %wid, "adopting an orphan failed: {e}");
            }
        }
    }
}
