//! A node dies (DESIGN.md, "Cluster"): its members go offline everywhere, and the
//! workspaces it owned get a new owner without losing anyone online elsewhere.
//!
//! - On the owner of a workspace with members on the dead node: each goes offline, as
//!   when its socket closes.
//! - On a node with members of a workspace the dead node owned: the node claims it
//!   (`locate.rs`); the winner loads it from the store (everyone offline) and every
//!   node with members there, the winner included, rebinds them: they are online again
//!   without anyone having seen them leave. Each rebinding node also names who its
//!   members believed online on a dead node; those still offline are announced to its
//!   members as `attendee-offline`.

use super::forward::{Command, Rebound};
use super::locate::Place;
use super::workspace::{Link, State, Workspace};
use super::Hub;
use crate::core::conn::ConnId;
use crate::core::event::{codec_for, Fanout, Push};
use std::collections::HashSet;
use std::sync::Arc;

/// What a replica knew when its node took the workspace over.
pub(super) struct Takeover {
    members: Vec<Rebound>,
    believed_online: Vec<String>,
}

impl Hub {
    /// Node `node` is gone.
    pub(crate) fn node_died(self: &Arc<Self>, node: u64) {
        self.abandon_requests_to(node);
        let me = self.router.node();
        let held: Vec<Arc<Workspace>> = self.registry().values().cloned().collect();
        for workspace in held {
            let holder = workspace.holder();
            if holder == me {
                self.forget_members_on(&workspace, node);
            } else if holder == node {
                let hub = self.clone();
                tokio::spawn(async move { hub.reclaim(&workspace).await });
            }
        }
    }

    /// On the owner: the members connected through `node` go offline.
    fn forget_members_on(&self, workspace: &Workspace, node: u64) {
        let gone: Vec<(String, ConnId)> = workspace
            .lock()
            .members
            .values()
            .filter_map(|m| m.conn.as_ref().map(|c| (m.id.clone(), c.id)))
            .filter(|(_, conn)| conn.node == node)
            .collect();
        for (attendee, conn) in gone {
            self.go_offline(workspace, &attendee, conn);
        }
    }

    /// A replica whose owner died: claim it, or tell the new owner who is here.
    async fn reclaim(&self, replica: &Arc<Workspace>) {
        match self.locate(&replica.id).await {
            // `adopt` rebound this node's members.
            Ok(Place::Here) => {}
            Ok(Place::Node(owner)) => {
                let Takeover {
                    members,
                    believed_online,
                } = self.known_to(&replica.lock());
                let wid = replica.id.clone();
                self.notify(
                    owner,
                    Command::Rebind {
                        wid,
                        members,
                        believed_online,
                    },
                );
            }
            Err(e) => {
                tracing::warn!(workspace = %replica.id, "no new owner after a node died: {e}")
            }
        }
    }

    /// What a replica's members on this node need of a new owner.
    fn known_to(&self, replica: &State) -> Takeover {
        let me = self.router.node();
        let online = replica
            .members
            .values()
            .filter_map(|m| Some((m, m.conn.as_ref()?)));
        let members = online
            .clone()
            .filter(|(_, link)| link.id.node == me)
            .map(|(m, link)| Rebound {
                attendee: m.id.clone(),
                conn: link.id,
                protocol: link.codec.protocol(),
            })
            .collect();
        // Members on live nodes rebind themselves: only those of dead nodes are gone.
        let alive = |node: u64| self.cluster.as_ref().is_none_or(|c| c.is_alive(node));
        let believed_online = online
            .filter(|(_, link)| !alive(link.id.node))
            .map(|(m, _)| m.id.clone())
            .collect();
        Takeover {
            members,
            believed_online,
        }
    }

    /// Puts `state`, loaded from the store, in place of what `replica` held; returns
    /// what the replica knew, for [`Takeover::finish`] once the registry is let go.
    pub(super) fn take_over(&self, replica: &Workspace, state: State) -> Takeover {
        let mut held = replica.lock();
        let known = self.known_to(&held);
        *held = state;
        known
    }

    /// On the owner: members of the sender's node are online; pushes `attendee-offline`
    /// to them for each member they believed online on a dead node that is not online.
    pub(super) fn rebind(&self, wid: &str, members: Vec<Rebound>, believed_online: &[String]) {
        let Ok(workspace) = self.find(wid) else {
            return;
        };
        let state = &mut *workspace.lock();
        let mut links = Vec::with_capacity(members.len());
        for rebound in members {
            let Some(codec) = codec_for(rebound.protocol) else {
                continue;
            };
            if let Some(member) = state.members.get_mut(&rebound.attendee) {
                let link = Link {
                    id: rebound.conn,
                    codec,
                };
                member.conn.get_or_insert(link.clone());
                member.offline_since = None;
                links.push((rebound.attendee, link));
            }
        }
        state.note_presence(self.clock.now_ms());
        self.replicate(wid, state);
        let rebound: HashSet<&str> = links.iter().map(|(id, _)| id.as_str()).collect();
        for attendee in believed_online {
            let offline = state
                .members
                .get(attendee)
                .is_some_and(|m| m.conn.is_none());
            if !offline || rebound.contains(attendee.as_str()) {
                continue;
            }
            let push = Push::AttendeeOffline {
                attendee_id: attendee.clone(),
            };
            let mut fanout = Fanout::new(&push);
            for (_, link) in &links {
                if let Some(frame) = fanout.frame(&link.codec) {
                    self.router.offer(link.id, &frame);
                }
            }
        }
    }
}

impl Takeover {
    /// Rebinds, on this node now the owner, the members the replica had here.
    pub(super) fn finish(self, hub: &Hub, workspace: &Workspace) {
        hub.rebind(&workspace.id, self.members, &self.believed_online);
    }
}
