//! The hot path: relaying signals between members of one workspace.
//!
//! A relay touches no storage and no global lock: under the workspace lock, only a
//! lookup, the encoding in the target's protocol (the payload copied as the sender's
//! bytes) and a queue push happen. Because one sender's requests are handled one at a
//! time, pushes to one target keep the order in which the sender sent them.

use super::forward::Command;
use super::membership::bound;
use super::request::{Signal, StateChange};
use super::workspace::State;
use super::{Binding, Caller, Hub};
use crate::auth::Role;
use crate::core::conn::{Router, Undelivered};
use crate::core::event::{Call, Push, Relay, Reply, Scene, SignalKind};
use crate::error::{Error, Limit, Malformed, Result};

impl Hub {
    /// A point-to-point signal: pushes `ring`, `answer`, `busy`, `icecandidate` or
    /// `negotiation` `{from, call?, <payload>?}` to the target only, the payload as the
    /// sender's bytes, then replies `sent {}`. An answer puts both sides in the
    /// workspace's call.
    ///
    /// Errors: `bad_request` (`to` is the sender), `unknown_attendee`, `peer_offline`,
    /// `rate_limited` (the target's queue holds half its limit), `not_attending`,
    /// `expired_token`.
    pub fn signal(&self, binding: &Binding, signal: Signal, caller: &Caller<'_>) -> Result<()> {
        not_to_self(binding, &signal.to)?;
        let Signal {
            kind,
            to,
            call,
            payload,
            form,
            nonce,
        } = signal;
        let answered = match kind {
            SignalKind::Answer => call.clone(),
            _ => None,
        };
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let scene = kind.has_call().then(|| {
            let wid = &binding.workspace.id;
            Box::new(Scene {
                workspace: state.info(wid, self.invite(wid, state)),
                sender_name: name_of(state, &binding.attendee),
            })
        });
        let relay = Push::Signal(Relay {
            kind,
            from: binding.attendee.clone(),
            to: to.clone(),
            call,
            payload,
            form,
            nonce,
            scene,
        });
        send_to(&self.router, state, &to, &relay)?;
        if let Some(call) = answered {
            join_call(state, call.clone(), [&to, &binding.attendee]);
            let wid = &binding.workspace.id;
            match binding.workspace.holder() {
                node if node == self.router.node() => self.replicate(wid, state),
                // A replica: the owner keeps the call newcomers are told about.
                node => {
                    let who = [to, binding.attendee.clone()];
                    let wid = wid.clone();
                    self.notify(node, Command::Answered { wid, call, who });
                }
            }
        }
        caller.reply(Reply::Sent);
        Ok(())
    }

    /// On the owner: an `answer` relayed on another node put both sides in the call.
    pub(super) fn call_answered(&self, wid: &str, call: String, who: [String; 2]) {
        let Ok(workspace) = self.find(wid) else {
            return;
        };
        let state = &mut *workspace.lock();
        join_call(state, call, [&who[0], &who[1]]);
        self.replicate(wid, state);
    }

    /// [`Hub::hangup`], on the node that owns the workspace.
    pub(super) fn hangup_here(
        &self,
        binding: &Binding,
        call: String,
        to: Option<String>,
        caller: &Caller<'_>,
    ) -> Result<()> {
        if let Some(to) = &to {
            not_to_self(binding, to)?;
        }
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let hangup = Push::Hangup {
            from: binding.attendee.clone(),
            from_name: name_of(state, &binding.attendee),
            call: call.clone(),
        };
        match &to {
            Some(to) => send_to(&self.router, state, to, &hangup)?,
            None => self.announce(&binding.workspace.id, state, &hangup, &binding.attendee),
        }
        if state.call.as_ref().is_some_and(|c| c.id == call) {
            if binding.role == Role::Owner && to.is_none() {
                state.call = None;
            } else {
                state.leave_call(&binding.attendee);
            }
            self.replicate(&binding.workspace.id, state);
        }
        caller.reply(Reply::Sent);
        Ok(())
    }

    /// [`Hub::state`], on the node that owns the workspace.
    pub(super) fn state_here(
        &self,
        binding: &Binding,
        change: StateChange,
        caller: &Caller<'_>,
    ) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let Some(member) = state.members.get_mut(&binding.attendee) else {
            return Err(Error::NotAttending);
        };
        member.mic = change.mic.or(member.mic);
        member.cam = change.cam.or(member.cam);
        let change = Push::State {
            from: binding.attendee.clone(),
            mic: member.mic,
            cam: member.cam,
            announced: (change.mic, change.cam),
        };
        self.announce(&binding.workspace.id, state, &change, &binding.attendee);
        caller.reply(Reply::Sent);
        Ok(())
    }

    /// Whether the caller's binding still holds; replies and pushes nothing.
    /// Errors: `not_attending`, `expired_token`.
    pub fn check_member(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        bound(&mut binding.workspace.lock(), binding, caller)
    }
}

/// A signal to oneself would, for one, make an `answer` with no `ring` set the call
/// every newcomer is told about (PROTOCOL.md 1.1).
fn not_to_self(binding: &Binding, to: &str) -> Result<()> {
    if to == binding.attendee {
        return Err(Error::BadRequest(Malformed::SignalToSelf));
    }
    Ok(())
}

/// Queues `push` for member `to`, in its protocol. A target whose queue holds half its
/// limit is not keeping up: the sender is refused `rate_limited` (and may retry),
/// rather than the target being evicted by someone else's traffic.
fn send_to(router: &Router, state: &State, to: &str, push: &Push) -> Result<()> {
    let target = state
        .members
        .get(to)
        .ok_or_else(|| Error::UnknownAttendee(to.to_string()))?;
    let conn = target
        .conn
        .as_ref()
        .ok_or_else(|| Error::PeerOffline(to.to_string()))?;
    let Some(frame) = conn.codec.push(push) else {
        return Ok(());
    };
    match router.relay(conn.id, frame) {
        // A connection that closed is still the member's until its teardown marks it
        // offline: what it misses, it would not have read.
        Ok(()) | Err(Undelivered::Gone) => Ok(()),
        Err(Undelivered::Full) => Err(Error::RateLimited(Limit::SlowRecipient)),
    }
}

/// A member's display name (empty if it is gone: the caller's binding was checked).
fn name_of(state: &State, attendee: &str) -> String {
    state
        .members
        .get(attendee)
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// An answered ring puts both sides in the workspace's call. A ring for another call
/// while one is in progress leaves the current call as it is.
fn join_call(state: &mut State, call: String, who: [&String; 2]) {
    let current = state.call.get_or_insert_with(|| Call {
        id: call.clone(),
        participants: Vec::new(),
    });
    if current.id != call {
        return;
    }
    for id in who {
        if !current.participants.contains(id) {
            current.participants.push(id.clone());
        }
    }
}
