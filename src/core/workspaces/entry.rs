//! What adapters call for a workspace, wherever its owner is: each operation is done
//! here when this node owns the workspace (always, on a node on its own), and forwarded
//! to its owner otherwise (`forward.rs`). Relays, `attendees`, `refresh` and the
//! membership checks are answered from this node's copy, replica or not (`relay.rs`,
//! `membership.rs`), and `create` always makes a workspace this node owns.

use super::forward::{Command, Outcome};
use super::locate::Place;
use super::request::{Attend, Moderation, StateChange};
use super::{Binding, Caller, Hub, InvitePreview};
use crate::auth::SessionClaims;
use crate::core::conn::ConnId;
use crate::error::{Error, Limit, Outage, Result};
use std::net::IpAddr;

impl Hub {
    /// `attend`: the holder of an invite joins (in the order of checks the module
    /// names), bound to the caller's connection. Replies `attended {workspace, attendee,
    /// token, attendees, call}`, then pushes `attendee-joined {attendee}` to every other
    /// online member.
    ///
    /// Errors: `invalid_token` or `expired_token` (the invite, or one rotated away),
    /// `bad_request` or `too_large` (name, PIN), `workspace_not_found`, `forbidden` (a
    /// banned address, or kicked while joining), `rate_limited` (the PIN limits),
    /// `wrong_pin`, `workspace_full`, `unavailable` (storage, or the connection closing
    /// during the PIN check).
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn attend(&self, req: Attend, caller: &Caller<'_>) -> Result<Binding> {
        let invite = self.tokens.verify_invite(&req.invite)?;
        match self.locate(&invite.wid).await? {
            Place::Here => self.attend_here(req, caller).await,
            Place::Node(node) => {
                let caller = caller.remote();
                self.bind_remote(self.forward(node, Command::Attend { req, caller }).await?)
            }
        }
    }

    /// `re-attend`: the member behind a session token takes this socket (a socket it
    /// had before gets 4001). A token past its `exp` still re-attends within
    /// `auth.reattend_grace_secs`, so that an owner is never locked out of their own
    /// workspace by time alone; a lapsed token whose membership or workspace is gone is
    /// `expired_token`, as it was before the grace existed.
    ///
    /// Replies `re-attended {workspace, attendee, token, attendees, call}`; a member that
    /// was offline is announced to every other online member as `attendee-online
    /// {attendee_id}`, and a connection it replaces is closed ([`CloseReason::Replaced`]).
    ///
    /// Errors: `invalid_token` (a bad token, or a membership that is gone),
    /// `expired_token`, `workspace_not_found`.
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn re_attend(&self, token: &str, caller: &Caller<'_>) -> Result<Binding> {
        let claims = self.tokens.verify_session_lapsed(token)?;
        match self.locate(&claims.wid).await {
            Ok(Place::Node(node)) => {
                let token = token.to_string();
                let caller = caller.remote();
                self.bind_remote(
                    self.forward(node, Command::ReAttend { token, caller })
                        .await?,
                )
            }
            // Here, or gone: what a token of a workspace that is gone gets is decided here.
            Ok(Place::Here) | Err(Error::WorkspaceNotFound) => self.re_attend_here(token, caller),
            Err(e) => Err(e),
        }
    }

    /// `leave`: the caller stops being a member, for good. Replies `left {}` once
    /// durable, then pushes `attendee-left {attendee_id, reason: "left"}` to every other
    /// online member.
    ///
    /// Errors: `forbidden` (the owner, who destroys instead), `not_attending`,
    /// `expired_token`, `unavailable` (storage).
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn leave(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        match self.owner_elsewhere(binding) {
            None => self.leave_here(binding, caller).await,
            Some(node) => {
                let (binding, caller) = (binding.wire(), caller.remote());
                self.forward(node, Command::Leave { binding, caller })
                    .await
                    .map(drop)
            }
        }
    }

    /// `destroy`, owner only: the workspace and every membership end. Replies
    /// `destroyed {workspace_id}` once durable, then pushes the same to every other
    /// online member; their bindings then answer `not_attending`.
    ///
    /// Errors: `forbidden` (a non-owner), `not_attending`, `expired_token`,
    /// `unavailable` (storage).
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn destroy(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        match self.owner_elsewhere(binding) {
            None => self.destroy_here(binding, caller).await,
            Some(node) => {
                let (binding, caller) = (binding.wire(), caller.remote());
                self.forward(node, Command::Destroy { binding, caller })
                    .await
                    .map(drop)
            }
        }
    }

    /// One of the owner's events; each is described below.
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub(crate) async fn moderate(
        &self,
        binding: &Binding,
        event: Moderation,
        caller: &Caller<'_>,
    ) -> Result<()> {
        match self.owner_elsewhere(binding) {
            None => self.moderate_here(binding, event, caller).await,
            Some(node) => {
                let (binding, caller) = (binding.wire(), caller.remote());
                let command = Command::Moderate {
                    binding,
                    event,
                    caller,
                };
                self.forward(node, command).await.map(drop)
            }
        }
    }

    /// `hangup`: pushes `hangup {from, call}` to `to`, or without `to` to every other
    /// online member with room, then replies `sent {}`. The owner hanging up without
    /// `to` ends the call; anyone else leaves it.
    ///
    /// Errors: those of [`Hub::signal`] when `to` is given; otherwise `not_attending`,
    /// `expired_token`.
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn hangup(
        &self,
        binding: &Binding,
        call: String,
        to: Option<String>,
        caller: &Caller<'_>,
    ) -> Result<()> {
        match self.owner_elsewhere(binding) {
            None => self.hangup_here(binding, call, to, caller),
            Some(node) => {
                let (binding, caller) = (binding.wire(), caller.remote());
                let command = Command::Hangup {
                    binding,
                    call,
                    to,
                    caller,
                };
                self.forward(node, command).await.map(drop)
            }
        }
    }

    /// `state`: records the caller's microphone and camera, pushes `state {from, mic,
    /// cam}` to every other online member with room, and replies `sent {}`.
    /// Errors: `not_attending`, `expired_token`.
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn state(
        &self,
        binding: &Binding,
        change: StateChange,
        caller: &Caller<'_>,
    ) -> Result<()> {
        match self.owner_elsewhere(binding) {
            None => self.state_here(binding, change, caller),
            Some(node) => {
                let (binding, caller) = (binding.wire(), caller.remote());
                let command = Command::State {
                    binding,
                    change,
                    caller,
                };
                self.forward(node, command).await.map(drop)
            }
        }
    }

    /// The connection behind `binding` closed. If it was still the member's current one,
    /// the member goes offline and every other online member gets `attendee-offline
    /// {attendee_id}`.
    ///
    /// In a cluster the owner is told, without waiting.
    pub fn disconnect(&self, binding: &Binding, conn: ConnId) {
        match self.owner_elsewhere(binding) {
            None => self.disconnect_here(binding, conn),
            Some(node) => {
                let binding = binding.wire();
                self.notify(node, Command::Disconnect { binding, conn });
            }
        }
    }

    /// A session token that still names a live membership (for HTTP requests, which
    /// have no socket binding). Errors: `invalid_token`, `expired_token`,
    /// `workspace_not_found`.
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn verify_member(&self, token: &str) -> Result<SessionClaims> {
        let claims = self.tokens.verify_session(token)?;
        // A member's own node holds its workspace: answered from that copy, without a
        // round trip (Socket.IO checks the token of every signal).
        let held = self.registry().get(&claims.wid).cloned();
        if let Some(workspace) = held {
            return super::membership::member_of(&workspace, claims);
        }
        match self.locate(&claims.wid).await? {
            Place::Here => self.verify_member_here(token),
            Place::Node(node) => {
                let token = token.to_string();
                match self.forward(node, Command::VerifyMember { token }).await? {
                    Outcome::Member(claims) => Ok(claims),
                    _ => Err(Error::Unavailable(Outage::Cluster)),
                }
            }
        }
    }

    /// Checks `invite` for a client at `ip` as `attend` does before the PIN (signature,
    /// expiry, the invite's version against rotations, the workspace, a ban of the
    /// address), and answers what the workspace shows to the invite's holder. Joins
    /// nothing; replies and pushes nothing.
    ///
    /// Errors: `rate_limited` (more than `limits.requests_per_second` a second from the
    /// address, bursts of `limits.request_burst`), `invalid_token` (a bad invite, or one
    /// rotated away), `expired_token`, `workspace_not_found`, `forbidden` (a banned
    /// address).
    ///
    /// In a cluster this is decided by the node that owns the workspace: elsewhere, the
    /// request is forwarded to it (errors also `unavailable` when it cannot be reached).
    pub async fn preview_invite(&self, invite: &str, ip: IpAddr) -> Result<InvitePreview> {
        if !self.invite_lookups.try_take(ip, self.clock.now()) {
            return Err(Error::RateLimited(Limit::Requests));
        }
        let claims = self.tokens.verify_invite(invite)?;
        match self.locate(&claims.wid).await? {
            Place::Here => self.preview_invite_here(invite, ip),
            Place::Node(node) => {
                let invite = invite.to_string();
                match self.forward(node, Command::Preview { invite, ip }).await? {
                    Outcome::Preview(preview) => Ok(preview),
                    _ => Err(Error::Unavailable(Outage::Cluster)),
                }
            }
        }
    }

    /// The owner's node when it is not this one.
    fn owner_elsewhere(&self, binding: &Binding) -> Option<u64> {
        Some(binding.workspace.holder()).filter(|node| *node != self.router.node())
    }
}
