//! The operator's view and say (the admin API, docs/operations.md): list and inspect
//! workspaces, and kick, rotate the invite or destroy as the owner could, without being
//! a member. Members see exactly what they see when their owner does the same: the
//! same pushes, the same closes, acknowledged to the operator only once durable.

use super::moderation::Expelled;
use super::workspace::{Member, State, Workspace};
use super::Hub;
use crate::auth::Role;
use crate::core::counters::Protocol;
use crate::core::event::Push;
use crate::error::{Error, Result};
use std::sync::Arc;

/// A workspace in the operator's list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkspaceSummary {
    /// The workspace id.
    pub id: String,
    /// Its name, as the owner gave it.
    pub name: String,
    /// Members, online or not.
    pub members: usize,
    /// Members online now.
    pub online: usize,
    /// Unix milliseconds.
    pub created_at: u64,
}

/// One workspace with its members, for the operator.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceDetail {
    /// The workspace id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Members online now.
    pub online: usize,
    /// Unix milliseconds.
    pub created_at: u64,
    /// Whether `attend` needs a PIN.
    pub pin_protected: bool,
    /// In join order, the owner first.
    pub members: Vec<MemberDetail>,
}

/// A member as the operator sees it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberDetail {
    /// The attendee id.
    pub id: String,
    /// The name it attends under.
    pub name: String,
    /// `owner` or `attendee`.
    pub role: Role,
    /// Whether a connection holds the membership now.
    pub online: bool,
    /// The protocol of its current connection (`native`, `socketio`); `None` offline.
    pub protocol: Option<String>,
}

/// Members online and offline, over every workspace of this node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    /// Members with a connection.
    pub online: usize,
    /// Members without one, until their ttl.
    pub offline: usize,
}

impl Hub {
    /// Every workspace whose id or name contains `query` (case-insensitive; all when
    /// empty), newest first.
    pub fn list(&self, query: &str) -> Vec<WorkspaceSummary> {
        let query = query.to_lowercase();
        let mut found: Vec<_> = self
            .snapshot()
            .iter()
            .filter_map(|ws| {
                let state = ws.lock();
                let matches = ws.id.to_lowercase().contains(&query)
                    || state.name.to_lowercase().contains(&query);
                (state.live && matches).then(|| summary(ws, &state))
            })
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
        found
    }

    /// [`Hub::inspect`], on the node that owns the workspace.
    pub(super) fn inspect_here(&self, wid: &str) -> Result<WorkspaceDetail> {
        let ws = self.find(wid)?;
        let state = ws.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        let members: Vec<_> = state.members.values().map(member).collect();
        Ok(WorkspaceDetail {
            id: ws.id.clone(),
            name: state.name.clone(),
            online: members.iter().filter(|m| m.online).count(),
            created_at: state.created_at,
            pin_protected: state.admission.pin_hash.is_some(),
            members,
        })
    }

    /// Members online and offline on this node (`switchboard_members`).
    pub fn presence(&self) -> Presence {
        let mut presence = Presence::default();
        for ws in self.snapshot() {
            let state = ws.lock();
            let online = state.members.values().filter(|m| m.conn.is_some()).count();
            presence.online += online;
            presence.offline += state.members.len() - online;
        }
        presence
    }

    /// [`Hub::operator_kick`], on the node that owns the workspace.
    pub(super) async fn kick_here(
        &self,
        wid: &str,
        target: &str,
        ban: bool,
    ) -> Result<Option<String>> {
        let ws = self.find(wid)?;
        let (name, conn) = {
            let state = &mut *live(&ws)?;
            if state.owner == target {
                return Err(Error::Forbidden(crate::error::Refusal::KickSelf));
            }
            self.remove_for_good(wid, state, target, ban)?
        };
        self.commit_change(&ws).await?;
        let expelled = Expelled {
            attendee_id: target,
            name,
            conn,
            ban,
        };
        let rotated = self.announce_kick(&ws, expelled, "");
        Ok(rotated.and_then(|push| match push {
            Push::InviteRotated { invite } => Some(invite),
            _ => None,
        }))
    }

    /// [`Hub::operator_rotate_invite`], on the node that owns the workspace.
    pub(super) async fn rotate_here(&self, wid: &str) -> Result<String> {
        let ws = self.find(wid)?;
        {
            let state = &mut *live(&ws)?;
            let mut next = state.admission.clone();
            next.rotate();
            self.put_admission(wid, state, next, None)?;
        }
        self.commit_change(&ws).await?;
        let mut state = ws.lock();
        let invite = self.invite(wid, &state);
        let rotated = Push::InviteRotated {
            invite: invite.clone(),
        };
        self.announce(wid, &mut state, &rotated, "");
        tracing::info!(workspace = %wid, "invite rotated by the operator");
        Ok(invite)
    }

    /// [`Hub::operator_destroy`], on the node that owns the workspace.
    pub(super) async fn destroy_by_operator_here(&self, wid: &str) -> Result<()> {
        let ws = self.find(wid)?;
        let members = {
            let state = &mut *live(&ws)?;
            self.tear_down(wid, state, "")?
        };
        self.forget(wid);
        self.commit().await?;
        self.announce_destroyed(wid, members);
        Ok(())
    }

    /// The workspaces this node owns, as they are now.
    fn snapshot(&self) -> Vec<Arc<Workspace>> {
        self.owned()
    }
}

/// The workspace's state, unless it ended meanwhile.
fn live(ws: &Workspace) -> Result<std::sync::MutexGuard<'_, State>> {
    let state = ws.lock();
    if state.live {
        Ok(state)
    } else {
        Err(Error::WorkspaceNotFound)
    }
}

fn summary(ws: &Workspace, state: &State) -> WorkspaceSummary {
    WorkspaceSummary {
        id: ws.id.clone(),
        name: state.name.clone(),
        members: state.members.len(),
        online: state.members.values().filter(|m| m.conn.is_some()).count(),
        created_at: state.created_at,
    }
}

fn member(m: &Member) -> MemberDetail {
    MemberDetail {
        id: m.id.clone(),
        name: m.name.clone(),
        role: m.role,
        online: m.conn.is_some(),
        protocol: m
            .conn
            .as_ref()
            .map(|c| Protocol::label(c.codec.protocol()).to_string()),
    }
}
