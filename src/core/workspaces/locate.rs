//! Where a workspace's decisions are made: here, or on the node that owns it. On a node
//! on its own every workspace is here. In a cluster a workspace nobody alive owns is
//! claimed by the node that needs it and loaded from the store, members offline
//! (`cluster/placement.rs`).

use super::persist::restore_state;
use super::workspace::Workspace;
use super::Hub;
use crate::cluster::placement::Claim;
use crate::error::{Error, Outage, Result};
use std::sync::Arc;

/// Where a workspace is decided.
pub(super) enum Place {
    /// This node owns it.
    Here,
    /// That node does.
    Node(u64),
}

impl Hub {
    /// Where workspace `wid` is decided. Errors: `workspace_not_found`, `unavailable`
    /// (Redis, or the store, does not answer).
    pub(super) async fn locate(&self, wid: &str) -> Result<Place> {
        let me = self.router.node();
        let held = self.registry().get(wid).cloned();
        if let Some(ws) = held {
            let holder = ws.holder();
            if holder == me {
                return Ok(Place::Here);
            }
            if self.cluster.as_ref().is_some_and(|c| c.is_alive(holder)) {
                return Ok(Place::Node(holder));
            }
        }
        let Some(cluster) = &self.cluster else {
            return Err(Error::WorkspaceNotFound);
        };
        if !cluster.redis_up() {
            return Err(Error::Unavailable(Outage::Cluster));
        }
        let claim = cluster.claim(wid).await.map_err(|e| {
            tracing::warn!(workspace = %wid, "claiming a workspace failed: {e}");
            Error::Unavailable(Outage::Cluster)
        })?;
        match claim {
            Claim::Missing => Err(Error::WorkspaceNotFound),
            Claim::Owner(node) if node != me => Ok(Place::Node(node)),
            Claim::Owner(_) => self.adopt(wid).await.map(|_| Place::Here),
        }
    }

    /// Loads a workspace this node has just come to own.
    async fn adopt(&self, wid: &str) -> Result<Arc<Workspace>> {
        let stored = self.store.load_workspace(wid).await.map_err(|e| {
            tracing::error!(workspace = %wid, "loading a workspace failed: {e}");
            Error::Unavailable(Outage::Storage)
        })?;
        let Some((record, members)) = stored else {
            return Err(Error::WorkspaceNotFound);
        };
        let me = self.router.node();
        let state = restore_state(record, members, self.clock.now_ms());
        let mut registry = self.registry_mut();
        if let Some(ws) = registry.get(wid).filter(|ws| ws.holder() == me) {
            // Another request of this node adopted it first.
            return Ok(ws.clone());
        }
        let workspace = match registry.get(wid).cloned() {
            Some(replica) => {
                let taken = self.take_over(&replica, state);
                replica.set_holder(me);
                drop(registry);
                taken.finish(self, &replica);
                replica
            }
            None => {
                let workspace = Arc::new(Workspace::new(wid.to_string(), me, state));
                registry.insert(wid.to_string(), workspace.clone());
                workspace
            }
        };
        tracing::info!(workspace = %wid, "workspace taken over from the store");
        Ok(workspace)
    }
}
