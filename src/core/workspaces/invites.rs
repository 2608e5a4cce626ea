//! Checking an invite: the part of `attend` that comes before the PIN, shared with the
//! look-up a join page makes before its form is filled (`GET /invite-info`).
//!
//! The look-up answers what an invite holder learns by attending: whether the invite
//! still leads anywhere, the workspace's name and whether its PIN will be asked for. It
//! joins nothing and checks no PIN, so it costs a signature check and a lock, and it is
//! limited per client address like every other request a stranger can make.

use super::workspace::Workspace;
use super::Hub;
use crate::auth::tokens::InviteClaims;
use crate::error::{Error, Result};
use std::net::IpAddr;
use std::sync::Arc;

/// What a join page may show about the workspace behind a live invite.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InvitePreview {
    /// The workspace's id.
    pub workspace_id: String,
    /// The workspace's name.
    pub name: String,
    /// Whether `attend` will ask for a PIN.
    pub pin_required: bool,
}

/// A workspace an invite admits its holder to, before the PIN.
pub(super) struct Admissible {
    pub(super) workspace: Arc<Workspace>,
    /// The workspace's name at the check.
    pub(super) name: String,
    /// The PIN's hash when the workspace has one, as it was at the check.
    pub(super) pin_hash: Option<String>,
}

impl Hub {
    /// [`Hub::preview_invite`], on the node that owns the workspace.
    pub(super) fn preview_invite_here(&self, invite: &str, ip: IpAddr) -> Result<InvitePreview> {
        let claims = self.tokens.verify_invite(invite)?;
        let admissible = self.admissible(&claims, ip)?;
        Ok(InvitePreview {
            workspace_id: admissible.workspace.id.clone(),
            name: admissible.name,
            pin_required: admissible.pin_hash.is_some(),
        })
    }

    /// The workspace a verified invite leads to, if it is live, the invite is of its
    /// current version and `ip` is not banned from it. Errors: `workspace_not_found`,
    /// `invalid_token` (rotated away), `forbidden` (banned).
    pub(super) fn admissible(&self, invite: &InviteClaims, ip: IpAddr) -> Result<Admissible> {
        let workspace = self.find(&invite.wid)?;
        let state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        state
            .admission
            .admits(invite.ver, ip, self.clock.now_ms())?;
        let (name, pin_hash) = (state.name.clone(), state.admission.pin_hash.clone());
        drop(state);
        Ok(Admissible {
            workspace,
            name,
            pin_hash,
        })
    }
}
