//! Joining and leaving: create, attend, re-attend, refresh, leave, kick, destroy, and
//! what happens when a socket goes away.
//!
//! Each operation enqueues its own success reply on the caller's socket while still
//! holding the workspace lock, so that no push from another member can overtake it.

use super::workspace::{Member, State, Workspace};
use super::{now_ms, Binding, Caller, Hub};
use crate::auth::tokens::now_secs;
use crate::auth::Role;
use crate::error::{Error, Result};
use crate::ids::new_id;
use crate::protocol::outbound::{push, reply};
use crate::protocol::request::{Attend, Create};
use crate::protocol::validate;
use indexmap::IndexMap;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

impl Hub {
    pub async fn create(&self, req: Create, caller: &Caller<'_>) -> Result<Binding> {
        let ws = &self.config.workspace;
        let name = validate::name(req.name.as_deref(), &ws.untitled)?;
        let attendee_name = validate::name(req.attendee_name.as_deref(), &ws.anonymous_attendee)?;
        let pin = validate::new_pin(req.pin.as_deref())?;
        if !self.creates.try_create(caller.ip, Instant::now()) {
            return Err(Error::RateLimited(
                "too many workspaces created; try again later",
            ));
        }
        let pin_hash = match pin {
            Some(pin) => Some(self.pins.hash(pin).await?),
            None => None,
        };
        let now = now_ms();
        let wid = new_id(ws.id_len);
        let owner = new_member(new_id(ws.id_len), attendee_name, Role::Owner, caller, now);
        let owner_id = owner.id.clone();
        let state = State {
            name,
            owner: owner_id.clone(),
            pin_hash,
            capacity: ws.max_capacity,
            created_at: now,
            members: IndexMap::from([(owner_id.clone(), owner)]),
            call: None,
            live: true,
            idle_since: None,
        };
        let workspace = Arc::new(Workspace::new(wid.clone(), state));
        self.registry_mut().insert(wid.clone(), workspace.clone());
        tracing::info!(workspace = %wid, owner = %owner_id, "workspace created");

        let state = workspace.lock();
        let (token, claims) = self.tokens.session(&wid, &owner_id, Role::Owner);
        let data = json!({
            "workspace": state.view(&wid, self.tokens.invite(&wid)),
            "attendee": state.members[&owner_id].view(),
            "token": token,
        });
        caller.out.send(reply(caller.re, "created", data));
        drop(state);
        Ok(bind(workspace, owner_id, Role::Owner, claims.exp))
    }

    pub async fn attend(&self, req: Attend, caller: &Caller<'_>) -> Result<Binding> {
        let invite = self.tokens.verify_invite(&req.invite)?;
        let name = validate::name(
            req.name.as_deref(),
            &self.config.workspace.anonymous_attendee,
        )?;
        let offered = validate::offered_pin(req.pin.as_deref())?;
        let workspace = self.find(&invite.wid)?;
        let pin_hash = workspace.lock().pin_hash.clone();
        if let Some(hash) = pin_hash {
            self.check_pin(&workspace.id, offered, hash, caller).await?;
        }

        let mut state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        if state.members.len() >= state.capacity {
            return Err(Error::WorkspaceFull(state.capacity));
        }
        let member = new_member(
            new_id(self.config.workspace.id_len),
            name,
            Role::Attendee,
            caller,
            now_ms(),
        );
        let id = member.id.clone();
        state.members.insert(id.clone(), member);
        state.idle_since = None;
        let (token, claims) = self.tokens.session(&workspace.id, &id, Role::Attendee);
        caller
            .out
            .send(self.joined_reply("attended", &workspace.id, &state, &id, token, caller));
        let joined = push(
            "attendee-joined",
            json!({"attendee": state.members[&id].view()}),
        );
        state.broadcast(&joined, &id);
        drop(state);
        tracing::info!(workspace = %workspace.id, attendee = %id, "attendee joined");
        Ok(bind(workspace, id, Role::Attendee, claims.exp))
    }

    /// The PIN check of `attend`: lockout first (so a locked-out guesser learns
    /// nothing), then the hash comparison off the async threads. Guesses already being
    /// hashed when the limit is reached still count, so parallel sockets can overshoot
    /// it by the few in flight; counting attempts before hashing would instead lock out
    /// a room of people behind one NAT who all join at once with the right PIN.
    async fn check_pin(
        &self,
        wid: &str,
        offered: Option<&str>,
        hash: String,
        caller: &Caller<'_>,
    ) -> Result<()> {
        if self.pin_failures.is_locked(wid, caller.ip, Instant::now()) {
            return Err(Error::RateLimited("too many wrong PINs; try again later"));
        }
        let pin = offered.ok_or(Error::WrongPin)?;
        if self.pins.verify(pin.to_string(), hash).await? {
            return Ok(());
        }
        self.pin_failures.record(wid, caller.ip, Instant::now());
        tracing::info!(workspace = %wid, ip = %caller.ip, "wrong PIN");
        Err(Error::WrongPin)
    }

    pub fn re_attend(&self, token: &str, caller: &Caller<'_>) -> Result<Binding> {
        let claims = self.tokens.verify_session(token)?;
        let workspace = self.find(&claims.wid)?;
        let mut state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        let member = state
            .members
            .get_mut(&claims.sub)
            .ok_or(Error::InvalidToken("this membership no longer exists"))?;
        let role = member.role;
        let previous = member.conn.replace(caller.out.clone());
        member.offline_since = None;
        if let Some(old) = &previous {
            old.close(
                super::outbox::CLOSE_REPLACED,
                "replaced by a newer connection",
            );
        }
        state.idle_since = None;
        let (token, new_claims) = self.tokens.session(&workspace.id, &claims.sub, role);
        caller.out.send(self.joined_reply(
            "re-attended",
            &workspace.id,
            &state,
            &claims.sub,
            token,
            caller,
        ));
        if previous.is_none() {
            let online = push("attendee-online", json!({"attendee_id": claims.sub}));
            state.broadcast(&online, &claims.sub);
        }
        drop(state);
        tracing::info!(workspace = %workspace.id, attendee = %claims.sub, "attendee re-attended");
        Ok(bind(workspace, claims.sub, role, new_claims.exp))
    }

    fn joined_reply(
        &self,
        event: &str,
        wid: &str,
        state: &State,
        attendee: &str,
        token: String,
        caller: &Caller<'_>,
    ) -> bytestring::ByteString {
        let data = json!({
            "workspace": state.view(wid, self.tokens.invite(wid)),
            "attendee": state.members[attendee].view(),
            "token": token,
            "attendees": state.attendees(),
            "call": state.call,
        });
        reply(caller.re, event, data)
    }

    pub fn refresh(&self, binding: &mut Binding, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let (token, claims) =
            self.tokens
                .session(&binding.workspace.id, &binding.attendee, binding.role);
        binding.exp = claims.exp;
        caller
            .out
            .send(reply(caller.re, "refreshed", json!({"token": token})));
        Ok(())
    }

    pub fn attendees(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        let data = json!({"attendees": state.attendees()});
        caller.out.send(reply(caller.re, "attendees", data));
        Ok(())
    }

    pub fn leave(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        if binding.role == Role::Owner {
            return Err(Error::Forbidden(
                "the owner cannot leave; destroy the workspace instead",
            ));
        }
        state.remove_member(&binding.attendee, now_ms());
        caller.out.send(reply(caller.re, "left", json!({})));
        let left = push(
            "attendee-left",
            json!({"attendee_id": binding.attendee, "reason": "left"}),
        );
        state.broadcast(&left, &binding.attendee);
        tracing::info!(workspace = %binding.workspace.id, attendee = %binding.attendee, "attendee left");
        Ok(())
    }

    pub fn kick(&self, binding: &Binding, target: &str, caller: &Caller<'_>) -> Result<()> {
        let state = &mut *binding.workspace.lock();
        bound(state, binding, caller)?;
        if binding.role != Role::Owner {
            return Err(Error::Forbidden("only the owner can kick"));
        }
        if target == binding.attendee {
            return Err(Error::Forbidden("the owner cannot kick themself"));
        }
        let kicked = state
            .remove_member(target, now_ms())
            .ok_or_else(|| Error::UnknownAttendee(target.to_string()))?;
        let data = json!({"attendee_id": target});
        caller.out.send(reply(caller.re, "kicked", &data));
        if let Some(conn) = kicked.conn {
            conn.send(push("kicked", &data));
            conn.close(super::outbox::CLOSE_KICKED, "kicked by the owner");
        }
        let left = push(
            "attendee-left",
            json!({"attendee_id": target, "reason": "kicked"}),
        );
        state.broadcast(&left, &binding.attendee);
        tracing::info!(workspace = %binding.workspace.id, attendee = %target, "attendee kicked");
        Ok(())
    }

    pub fn destroy(&self, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
        let wid = &binding.workspace.id;
        {
            let state = &mut *binding.workspace.lock();
            bound(state, binding, caller)?;
            if binding.role != Role::Owner {
                return Err(Error::Forbidden("only the owner can destroy the workspace"));
            }
            let data = json!({"workspace_id": wid});
            caller.out.send(reply(caller.re, "destroyed", &data));
            state.broadcast(&push("destroyed", &data), &binding.attendee);
            end(state);
        }
        self.registry_mut().remove(wid);
        tracing::info!(workspace = %wid, "workspace destroyed");
        Ok(())
    }

    /// The socket behind `binding` closed. If it was still the member's current one, the
    /// member goes offline and the others hear of it.
    pub fn disconnect(&self, binding: &Binding, conn: u64) {
        let state = &mut *binding.workspace.lock();
        let Some(member) = state.bound_member(&binding.attendee, conn) else {
            return;
        };
        member.conn = None;
        let now = now_ms();
        member.offline_since = Some(now);
        state.note_presence(now);
        let offline = push("attendee-offline", json!({"attendee_id": binding.attendee}));
        state.broadcast(&offline, &binding.attendee);
        tracing::info!(workspace = %binding.workspace.id, attendee = %binding.attendee, "attendee offline");
    }
}

/// Checks that the caller's socket still holds the binding's membership: not left,
/// kicked, replaced or destroyed since. The session token's expiry is checked too.
pub(super) fn bound(state: &mut State, binding: &Binding, caller: &Caller<'_>) -> Result<()> {
    if !state.live
        || state
            .bound_member(&binding.attendee, caller.out.id())
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

fn new_member(id: String, name: String, role: Role, caller: &Caller<'_>, now: u64) -> Member {
    Member {
        id,
        name,
        role,
        joined_at: now,
        conn: Some(caller.out.clone()),
        offline_since: None,
        mic: None,
        cam: None,
    }
}

fn bind(workspace: Arc<Workspace>, attendee: String, role: Role, exp: u64) -> Binding {
    Binding {
        workspace,
        attendee,
        role,
        exp,
    }
}

impl Hub {
    /// A session token that still names a live membership (for HTTP requests, which
    /// have no socket binding).
    pub fn verify_member(&self, token: &str) -> Result<crate::auth::SessionClaims> {
        let claims = self.tokens.verify_session(token)?;
        let workspace = self.find(&claims.wid)?;
        let state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        if !state.members.contains_key(&claims.sub) {
            return Err(Error::InvalidToken("this membership no longer exists"));
        }
        Ok(claims)
    }
}
