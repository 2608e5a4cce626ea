//! The operator's requests (`operator.rs`) wherever the workspace's owner is: done here
//! when this node owns it, forwarded to its owner otherwise, as members' requests are
//! (`entry.rs`).

use super::forward::{Command, Operator, Outcome};
use super::locate::Place;
use super::operator::WorkspaceDetail;
use super::Hub;
use crate::error::{Error, Outage, Result};

impl Hub {
    /// One workspace and its members. Errors: `workspace_not_found`, `unavailable`.
    ///
    /// In a cluster it is done by the node that owns the workspace.
    pub async fn inspect(&self, wid: &str) -> Result<WorkspaceDetail> {
        match self
            .operate(
                wid,
                Operator::Inspect {
                    wid: wid.to_string(),
                },
            )
            .await?
        {
            None => self.inspect_here(wid),
            Some(Outcome::Detail(detail)) => Ok(detail),
            Some(_) => Err(Error::Unavailable(Outage::Cluster)),
        }
    }

    /// Removes `target` for good, as the owner's `kick {attendee_id, ban}` would: the
    /// target gets `kicked` and its socket closes, every online member (the owner too)
    /// gets `attendee-left` and, with `ban`, `invite-rotated`. The owner cannot be
    /// kicked: destroy the workspace instead. Returns the new invite of a ban. Errors:
    /// `workspace_not_found`, `unknown_attendee`, `forbidden` (the owner),
    /// `unavailable` (storage).
    ///
    /// In a cluster it is done by the node that owns the workspace.
    pub async fn operator_kick(
        &self,
        wid: &str,
        target: &str,
        ban: bool,
    ) -> Result<Option<String>> {
        let (id, attendee) = (wid.to_string(), target.to_string());
        match self
            .operate(
                wid,
                Operator::Kick {
                    wid: id,
                    attendee,
                    ban,
                },
            )
            .await?
        {
            None => self.kick_here(wid, target, ban).await,
            Some(Outcome::Invite(invite)) => Ok(invite),
            Some(_) => Err(Error::Unavailable(Outage::Cluster)),
        }
    }

    /// A new invite: every invite handed out so far stops working, and every online
    /// member gets `invite-rotated {invite}`. Returns the new invite. Errors:
    /// `workspace_not_found`, `unavailable` (storage).
    ///
    /// In a cluster it is done by the node that owns the workspace.
    pub async fn operator_rotate_invite(&self, wid: &str) -> Result<String> {
        match self
            .operate(
                wid,
                Operator::Rotate {
                    wid: wid.to_string(),
                },
            )
            .await?
        {
            None => self.rotate_here(wid).await,
            Some(Outcome::Invite(Some(invite))) => Ok(invite),
            Some(_) => Err(Error::Unavailable(Outage::Cluster)),
        }
    }

    /// Ends the workspace as the owner's `destroy` would: every online member gets
    /// `destroyed {workspace_id}`. Errors: `workspace_not_found`, `unavailable`.
    ///
    /// In a cluster it is done by the node that owns the workspace.
    pub async fn operator_destroy(&self, wid: &str) -> Result<()> {
        match self
            .operate(
                wid,
                Operator::Destroy {
                    wid: wid.to_string(),
                },
            )
            .await?
        {
            None => self.destroy_by_operator_here(wid).await,
            Some(_) => Ok(()),
        }
    }

    /// `None` when this node owns `wid`; the owner's outcome of `request` otherwise.
    async fn operate(&self, wid: &str, request: Operator) -> Result<Option<Outcome>> {
        match self.locate(wid).await? {
            Place::Here => Ok(None),
            Place::Node(node) => self
                .forward(node, Command::Operator(request))
                .await
                .map(Some),
        }
    }

    /// On the owner: an operator's request another node forwarded.
    pub(super) async fn operate_here(&self, request: Operator) -> Result<Outcome> {
        match request {
            Operator::Inspect { wid } => self.inspect_here(&wid).map(Outcome::Detail),
            Operator::Kick { wid, attendee, ban } => self
                .kick_here(&wid, &attendee, ban)
                .await
                .map(Outcome::Invite),
            Operator::Rotate { wid } => self
                .rotate_here(&wid)
                .await
                .map(|i| Outcome::Invite(Some(i))),
            Operator::Destroy { wid } => self
                .destroy_by_operator_here(&wid)
                .await
                .map(|()| Outcome::Done),
        }
    }
}
