//! Membership after joining: refresh, the attendee list, leave, destroy, and what
//! happens when a socket goes away (`kick` is in `moderation.rs`).
//!
//! `left` and `destroyed` are acknowledged only once durable (see `persist.rs`); the
//! pushes that tell the others follow the acknowledgement.

use super::workspace::{Link, State, Workspace};
use super::{Binding, Caller, Hub};
use crate::auth::tokens::now_secs;
use crate::auth::Role;
use crate::core::conn::ConnId;
use crate::core::event::{Fanout, LeaveReason, Push, Reply};
use crate::error::{Error, Refusal, Result, TokenRefusal};
use crate::store::Change;

impl Hub {
    /// `refresh`: a new session token for the caller's membership. Replies `refreshed
    /// {token}`; pushes nothing. Errors: `not_attending`, `expired_token`.
    pub fn refresh(&self, binding: &mut Binding, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let (token, claims) =
            self.tokens
                .session(&binding.workspace.id, &binding.attendee, binding.role);
        binding.exp = claims.exp;
        caller.reply(Reply::Refreshed { token });
        Ok(())
    }

    /// `attendees`: replies `attendees {attendees}`, every member in join order; pushes
    /// nothing. Errors: `not_attending`, `expired_token`.
    pub fn attendees(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        caller.reply(Reply::Attendees {
            attendees: state.attendees(),
        });
        Ok(())
    }

    /// [`Hub::leave`], on the node that owns the workspace.
    pub(super) async fn leave_here(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        if binding.role == Role::Owner {
            return Err(Error::Forbidden(Refusal::OwnerCannotLeave));
        }
        let name = self.remove(binding, &binding.attendee, caller)?;
        self.commit_change(&binding.workspace).await?;
        caller.reply(Reply::Left);
        let left = Push::AttendeeLeft {
            attendee_id: binding.attendee.clone(),
            name,
            reason: LeaveReason::Left,
        };
        let mut state = binding.workspace.lock();
        self.announce(&binding.workspace.id, &mut state, &left, &binding.attendee);
        drop(state);
        tracing::info!(workspace = %binding.workspace.id, attendee = %binding.attendee, "attendee left");
        Ok(())
    }

    /// Removes `target` for good, store first; returns its name.
    fn remove(&self, binding: &Binding, target: &str, caller: &Caller<'_>) -> Result<String> {
        let wid = &binding.workspace.id;
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        if !state.members.contains_key(target) {
            return Err(Error::UnknownAttendee(target.to_string()));
        }
        self.write(&[Change::DropMember(wid.clone(), target.to_string())])?;
        let now = self.clock.now_ms();
        let member = state.remove_member(target, now);
        self.write_presence(&[Change::PutWorkspace(state.record(wid))]);
        Ok(member.map(|m| m.name).unwrap_or_default())
    }

    /// [`Hub::destroy`], on the node that owns the workspace.
    pub(super) async fn destroy_here(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let wid = &binding.workspace.id;
        let others = {
            let state = &mut *binding.workspace.lock();
            bound(state, binding, caller)?;
            if binding.role != Role::Owner {
                return Err(Error::Forbidden(Refusal::OwnerOnlyDestroy));
            }
            self.tear_down(wid, state, &binding.attendee)?
        };
        self.forget(wid);
        self.commit().await?;
        caller.reply(Reply::Destroyed {
            workspace_id: wid.clone(),
        });
        self.announce_destroyed(wid, others);
        Ok(())
    }

    /// Ends the workspace in the store, then in memory, under its lock; returns the
    /// sockets of the online members but `except`, to be told once it is durable.
    pub(super) fn tear_down(
        &self,
        wid: &str,
        state: &mut State,
        except: &str,
    ) -> Result<Vec<Link>> {
        self.write(&[Change::DropWorkspace(wid.to_string())])?;
        let others = state
            .members
            .values()
            .filter(|m| m.id != except)
            .filter_map(|m| m.conn.clone())
            .collect();
        end(state);
        self.replicate(wid, state);
        Ok(others)
    }

    /// `destroyed {workspace_id}` to each of `conns`.
    pub(super) fn announce_destroyed(&self, wid: &str, conns: Vec<Link>) {
        let destroyed = Push::Destroyed {
            workspace_id: wid.to_string(),
        };
        let mut fanout = Fanout::new(&destroyed);
        for conn in conns {
            if let Some(frame) = fanout.frame(&conn.codec) {
                self.router.send(conn.id, frame);
            }
        }
        tracing::info!(workspace = %wid, "workspace destroyed");
    }

    /// [`Hub::disconnect`], on the node that owns the workspace.
    pub(super) fn disconnect_here(&self, binding: &Binding, conn: ConnId) {
        self.go_offline(&binding.workspace, &binding.attendee, conn);
    }

    /// Member `attendee` goes offline if `conn` is still its connection, and every
    /// other online member gets `attendee-offline {attendee_id}`.
    pub(super) fn go_offline(&self, workspace: &Workspace, attendee: &str, conn: ConnId) {
        let wid = &workspace.id;
        let state = &mut *workspace.lock();
        let Some(member) = state.bound_member(attendee, conn) else {
            return;
        };
        let now = self.clock.now_ms();
        member.conn = None;
        member.offline_since = Some(now);
        let record = member.record();
        state.note_presence(now);
        self.write_presence(&[
            Change::PutMember(wid.clone(), record),
            Change::PutWorkspace(state.record(wid)),
        ]);
        let offline = Push::AttendeeOffline {
            attendee_id: attendee.to_string(),
        };
        self.announce(wid, state, &offline, attendee);
        tracing::info!(workspace = %wid, attendee = %attendee, "attendee offline");
    }

    /// [`Hub::verify_member`], on the node that owns the workspace.
    pub(super) fn verify_member_here(&self, token: &str) -> Result<crate::auth::SessionClaims> {
        let claims = self.tokens.verify_session(token)?;
        member_of(&*self.find(&claims.wid)?, claims)
    }
}

/// `claims`, if they name a member of `workspace` (this node's copy, replica or not).
/// Errors: `workspace_not_found`, `invalid_token` (the membership is gone).
pub(super) fn member_of(
    workspace: &Workspace,
    claims: crate::auth::SessionClaims,
) -> Result<crate::auth::SessionClaims> {
    let state = workspace.lock();
    if !state.live {
        return Err(Error::WorkspaceNotFound);
    }
    if !state.members.contains_key(&claims.sub) {
        return Err(Error::InvalidToken(TokenRefusal::MembershipGone));
    }
    Ok(claims)
}

/// Checks that the caller's socket still holds the binding's membership: not left,
/// kicked, replaced or destroyed since. The session token's expiry is checked too.
pub(super) fn bound(state: &mut State, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
    if !state.live
        || state
            .bound_member(&binding.attendee, caller.link.id)
            .is_none()
    {
        return Err(Error::NotAttending);
    }
    if binding.exp <= now_secs() {
        return Err(Error::ExpiredToken);
    }
    Ok(())
}

/// Marks a workspace gone: its members and their tokens stop counting.
pub(super) fn end(state: &mut State) {
    state.live = false;
    state.members.clear();
    state.call = None;
}
