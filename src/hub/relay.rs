//! The hot path: relaying signals between members of one workspace.
//!
//! A relay touches no storage and no global lock: the frame is encoded before the
//! workspace lock is taken, and under it only a lookup and a queue push happen. Because
//! one sender's requests are handled one at a time, pushes to one target keep the order
//! in which the sender sent them.

use super::membership::bound;
use super::workspace::{Call, State};
use super::{Binding, Caller, Hub};
use crate::auth::Role;
use crate::error::{Error, Result};
use crate::protocol::outbound::{push, reply, Empty};
use crate::protocol::request::StateChange;
use crate::protocol::{Signal, SignalKind};
use bytestring::ByteString;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

/// What a target receives: `{from, call?, <payload field>?}`, the payload's bytes as
/// the sender wrote them.
#[derive(Serialize)]
struct Relayed<'a> {
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a RawValue>,
}

impl Hub {
    pub fn signal(&self, binding: &Binding, signal: Signal, caller: &Caller<'_>) -> Result<()> {
        let payload = signal
            .payload
            .as_ref()
            .map(|(field, value)| (*field, &**value));
        let field = |name: &str| payload.filter(|(f, _)| *f == name).map(|(_, v)| v);
        let frame = push(
            signal.kind.event(),
            Relayed {
                from: &binding.attendee,
                call: signal.call.as_deref(),
                sdp: field("sdp"),
                candidate: field("candidate"),
                description: field("description"),
            },
        );
        not_to_self(binding, &signal.to)?;
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        send_to(state, &signal.to, frame)?;
        if let (SignalKind::Answer, Some(call)) = (signal.kind, signal.call) {
            join_call(state, call, [&signal.to, &binding.attendee]);
        }
        caller.out.send(sent(caller));
        Ok(())
    }

    pub fn hangup(
        &self,
        binding: &Binding,
        call: String,
        to: Option<String>,
        caller: &Caller<'_>,
    ) -> Result<()> {
        if let Some(to) = &to {
            not_to_self(binding, to)?;
        }
        let frame = push("hangup", json!({"from": binding.attendee, "call": call}));
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        match &to {
            Some(to) => send_to(state, to, frame)?,
            None => state.broadcast(&frame, &binding.attendee),
        }
        if state.call.as_ref().is_some_and(|c| c.id == call) {
            if binding.role == Role::Owner && to.is_none() {
                state.call = None;
            } else {
                state.leave_call(&binding.attendee);
            }
        }
        caller.out.send(sent(caller));
        Ok(())
    }

    pub fn state(&self, binding: &Binding, change: StateChange, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let Some(member) = state.members.get_mut(&binding.attendee) else {
            return Err(Error::NotAttending);
        };
        member.mic = change.mic.or(member.mic);
        member.cam = change.cam.or(member.cam);
        let frame = push(
            "state",
            json!({"from": binding.attendee, "mic": member.mic, "cam": member.cam}),
        );
        state.broadcast(&frame, &binding.attendee);
        caller.out.send(sent(caller));
        Ok(())
    }

    pub fn check_member(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        bound(&mut binding.workspace.lock(), binding, caller)
    }
}

/// A signal to oneself would, for one, make an `answer` with no `ring` set the call
/// every newcomer is told about (PROTOCOL.md 1.1).
fn not_to_self(binding: &Binding, to: &str) -> Result<()> {
    if to == binding.attendee {
        return Err(Error::bad_request("to is the sender itself"));
    }
    Ok(())
}

/// Queues `frame` for member `to`. A target whose queue holds half its limit is not
/// keeping up: the sender is refused `rate_limited` (and may retry), rather than the
/// target being evicted by someone else's traffic.
fn send_to(state: &State, to: &str, frame: ByteString) -> Result<()> {
    let target = state
        .members
        .get(to)
        .ok_or_else(|| Error::UnknownAttendee(to.to_string()))?;
    let conn = target
        .conn
        .as_ref()
        .ok_or_else(|| Error::PeerOffline(to.to_string()))?;
    conn.relay(frame)
        .map_err(|_| Error::RateLimited("the recipient is not keeping up; send again shortly"))
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

fn sent(caller: &Caller<'_>) -> ByteString {
    reply(caller.re, "sent", Empty {})
}
