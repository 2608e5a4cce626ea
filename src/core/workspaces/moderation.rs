//! The owner's say over who is in and who may come in: `kick` (with or without a ban),
//! `rotate-invite` and `set-pin`.
//!
//! Each is acknowledged only once durable (see `persist.rs`): the new admission rules
//! are written under the workspace lock before they take effect, committed, and only
//! then replied to and announced. `attend` checks the rules again under that lock when
//! it takes its seat, so once the owner has the reply, no later seat is taken under
//! the old rules.

use super::admission::Admission;
use super::membership::bound;
use super::request::Moderation;
use super::workspace::{Link, State, Workspace};
use super::{Binding, Caller, Hub};
use crate::auth::Role;
use crate::core::event::{CloseReason, LeaveReason, Push, Reply};
use crate::core::validate;
use crate::error::{Error, Refusal, Result};
use crate::store::Change;
use std::net::IpAddr;

impl Hub {
    /// [`Hub::moderate`], on the node that owns the workspace.
    pub(super) async fn moderate_here(
        &self,
        binding: &Binding,
        event: Moderation,
        caller: &Caller<'_>,
    ) -> Result<()> {
        match event {
            Moderation::Kick { attendee_id, ban } => {
                self.kick(binding, &attendee_id, ban, caller).await
            }
            Moderation::RotateInvite => self.rotate_invite(binding, caller).await,
            Moderation::SetPin { pin } => self.set_pin(binding, pin, caller).await,
        }
    }

    /// `kick {attendee_id, ban?}`, owner only. Replies `kicked {attendee_id}`; pushes
    /// `kicked {attendee_id}` to the target's socket, then closes it with 4003, and
    /// `attendee-left {attendee_id, reason: "kicked"}` to the other online members.
    ///
    /// With `ban`, the invite is rotated too and the address the target is connected
    /// from (or last connected from, when offline) is refused at `attend` for
    /// `workspace.ban_secs`; every online member left, the owner included, gets
    /// `invite-rotated {invite}` after the `attendee-left`.
    ///
    /// Errors: `forbidden` (a non-owner, or the owner kicking themself),
    /// `unknown_attendee`, `not_attending` or `expired_token` (the caller's own
    /// binding), `unavailable` (storage).
    async fn kick(
        &self,
        binding: &Binding,
        target: &str,
        ban: bool,
        caller: &Caller<'_>,
    ) -> Result<()> {
        let (name, kicked) = self.expel(binding, target, ban, caller)?;
        self.commit_change(&binding.workspace).await?;
        caller.reply(Reply::Kicked {
            attendee_id: target.to_string(),
            name: name.clone(),
        });
        let expelled = Expelled {
            attendee_id: target,
            name,
            conn: kicked,
            ban,
        };
        // The owner's reply is `kicked`: a new invite reaches them as a push.
        if let Some(rotated) = self.announce_kick(&binding.workspace, expelled, &binding.attendee) {
            caller.push(&rotated);
        }
        Ok(())
    }

    /// After a kick is durable: `kicked` to the target's socket, then its close (4003),
    /// and `attendee-left` (with a ban, `invite-rotated` after it) to every online
    /// member but `except`. Returns the `invite-rotated` push of a ban.
    pub(super) fn announce_kick(
        &self,
        workspace: &Workspace,
        expelled: Expelled<'_>,
        except: &str,
    ) -> Option<Push> {
        let Expelled {
            attendee_id,
            name,
            conn,
            ban,
        } = expelled;
        if let Some(conn) = conn {
            let push = Push::Kicked {
                attendee_id: attendee_id.to_string(),
                name: name.clone(),
            };
            if let Some(frame) = conn.codec.push(&push) {
                self.router.send(conn.id, frame);
            }
            if let Some((code, reason)) = conn.codec.close(CloseReason::Kicked) {
                self.router.close(conn.id, code, reason);
            }
        }
        let wid = &workspace.id;
        let mut state = workspace.lock();
        let left = Push::AttendeeLeft {
            attendee_id: attendee_id.to_string(),
            name,
            reason: LeaveReason::Kicked,
        };
        self.announce(wid, &mut state, &left, except);
        tracing::info!(workspace = %wid, attendee = %attendee_id, ban, "attendee kicked");
        ban.then(|| {
            let rotated = Push::InviteRotated {
                invite: self.invite(wid, &state),
            };
            self.announce(wid, &mut state, &rotated, except);
            rotated
        })
    }

    /// The owner's kick: checks the caller may, then [`Hub::remove_for_good`].
    fn expel(
        &self,
        binding: &Binding,
        target: &str,
        ban: bool,
        caller: &Caller<'_>,
    ) -> Result<(String, Option<Link>)> {
        let state = &mut *binding.workspace.lock();
        owner_only(state, binding, caller, Refusal::OwnerOnlyKick)?;
        if target == binding.attendee {
            return Err(Error::Forbidden(Refusal::KickSelf));
        }
        self.remove_for_good(&binding.workspace.id, state, target, ban)
    }

    /// Removes `target` from `state` for good, store first (with `ban`, rotating the
    /// invite and banning its address in the same write); returns its name and its
    /// socket, if it had one.
    pub(super) fn remove_for_good(
        &self,
        wid: &str,
        state: &mut State,
        target: &str,
        ban: bool,
    ) -> Result<(String, Option<Link>)> {
        let member = state
            .members
            .get(target)
            .ok_or_else(|| Error::UnknownAttendee(target.to_string()))?;
        let dropped = Change::DropMember(wid.to_string(), target.to_string());
        if ban {
            let mut next = state.admission.clone();
            self.ban(&mut next, member.addr);
            self.put_admission(wid, state, next, Some(dropped))?;
        } else {
            self.write(&[dropped])?;
        }
        let member = state.remove_member(target, self.clock.now_ms());
        Ok(member.map_or_else(Default::default, |m| (m.name, m.conn)))
    }

    /// `rotate-invite {}`, owner only: every invite handed out so far stops working
    /// (`invalid_token` at `attend`). Replies `invite-rotated {invite}` with the new
    /// invite, and pushes the same to the other online members.
    ///
    /// Errors: `forbidden` (a non-owner), `not_attending` or `expired_token` (the
    /// caller's own binding), `unavailable` (storage).
    async fn rotate_invite(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let wid = &binding.workspace.id;
        {
            let state = &mut *binding.workspace.lock();
            owner_only(state, binding, caller, Refusal::OwnerOnlyRotate)?;
            let mut next = state.admission.clone();
            next.rotate();
            self.put_admission(wid, state, next, None)?;
        }
        self.commit_change(&binding.workspace).await?;
        let mut state = binding.workspace.lock();
        let invite = self.invite(wid, &state);
        caller.reply(Reply::InviteRotated {
            invite: invite.clone(),
        });
        let rotated = Push::InviteRotated { invite };
        self.announce(wid, &mut state, &rotated, &binding.attendee);
        tracing::info!(workspace = %wid, "invite rotated");
        Ok(())
    }

    /// `set-pin {pin}`, owner only: the PIN every later `attend` needs. `pin` obeys the
    /// rules of `create` (empty means none); `None` (JSON null) removes the PIN. Members
    /// already in stay. Replies `pin-set {protected}`; pushes nothing.
    ///
    /// Errors: `forbidden` (a non-owner), `bad_request` or `too_large` (the PIN's
    /// shape), `rate_limited` (too many PIN hashes of this address at once),
    /// `not_attending` or `expired_token` (the caller's own binding), `unavailable`
    /// (storage, or the connection closing while the PIN is hashed).
    async fn set_pin(
        &self,
        binding: &Binding,
        pin: Option<String>,
        caller: &Caller<'_>,
    ) -> Result<()> {
        let only = Refusal::OwnerOnlySetPin;
        owner_only(&mut binding.workspace.lock(), binding, caller, only)?;
        let pin_hash = match validate::new_pin(pin.as_deref())? {
            Some(pin) => Some(self.hash_new_pin(pin, caller).await?),
            None => None,
        };
        let protected = pin_hash.is_some();
        {
            // The binding may have been replaced while the PIN was hashed.
            let state = &mut *binding.workspace.lock();
            owner_only(state, binding, caller, only)?;
            let mut next = state.admission.clone();
            next.pin_hash = pin_hash;
            self.put_admission(&binding.workspace.id, state, next, None)?;
        }
        self.commit_change(&binding.workspace).await?;
        caller.reply(Reply::PinSet { protected });
        tracing::info!(workspace = %binding.workspace.id, protected, "PIN set");
        Ok(())
    }

    /// Rotates the invite and, when the address is known and bans last at all, refuses
    /// `addr` for `workspace.ban_secs`.
    fn ban(&self, admission: &mut Admission, addr: Option<IpAddr>) {
        admission.rotate();
        let secs = self.config.workspace.ban_secs;
        if let Some(addr) = addr.filter(|_| secs > 0) {
            let now = self.clock.now_ms();
            admission.ban(addr, now.saturating_add(secs.saturating_mul(1000)), now);
        }
    }

    /// Writes `next` as the workspace's admission rules, in one batch with `also`, and
    /// only then puts them in force: a failed write changes nothing.
    pub(super) fn put_admission(
        &self,
        wid: &str,
        state: &mut State,
        next: Admission,
        also: Option<Change>,
    ) -> Result<()> {
        let mut changes: Vec<Change> = also.into_iter().collect();
        changes.push(Change::PutWorkspace(state.record_with(wid, &next)));
        self.write(&changes)?;
        state.admission = next;
        Ok(())
    }
}

/// A member just removed for good, to be announced.
pub(super) struct Expelled<'a> {
    pub(super) attendee_id: &'a str,
    pub(super) name: String,
    /// Its socket, when it was online.
    pub(super) conn: Option<Link>,
    pub(super) ban: bool,
}

/// The caller's binding still holds (see `membership::bound`) and is the owner's.
fn owner_only(
    state: &mut State,
    binding: &Binding,
    caller: &Caller<'_>,
    refusal: Refusal,
) -> Result<()> {
    bound(state, binding, caller)?;
    if binding.role != Role::Owner {
        return Err(Error::Forbidden(refusal));
    }
    Ok(())
}
