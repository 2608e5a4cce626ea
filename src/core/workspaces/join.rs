//! Joining: `create`, `attend` and `re-attend`.
//!
//! `attend` checks, in order: the invite (its signature, expiry and version), the
//! workspace, a ban of the caller's address (these three as `GET /invite-info` does,
//! see `invites.rs`), the PIN lockout, the PIN, then capacity.
//!
//! A join is acknowledged only once durable. `attend` reserves the seat under the
//! workspace lock (so concurrent attends never exceed capacity), commits, and only then
//! makes the newcomer reachable and announces it: nobody can push to a member before
//! its own `attended` reply is on its way.

use super::admission::Admission;
use super::invites::Admissible;
use super::request::{Attend, Create};
use super::workspace::{Member, State, Workspace};
use super::{Binding, Caller, Hub};
use crate::auth::tokens::now_secs;
use crate::auth::{Role, SessionClaims};
use crate::core::event::{CloseReason, Joined, Push, Reply};
use crate::core::ids::new_id;
use crate::core::validate;
use crate::error::{Error, Limit, Outage, Refusal, Result, TokenRefusal};
use crate::store::Change;
use indexmap::IndexMap;
use std::sync::Arc;

impl Hub {
    /// `create`: a new workspace, owned by the caller, whose connection it binds.
    /// Replies `created {workspace, attendee, token}`; pushes nothing.
    ///
    /// Errors: `bad_request` or `too_large` (a name or the PIN), `rate_limited`
    /// (`limits.creates_per_minute` of the caller's address, or its PIN hashes in
    /// flight), `unavailable` (storage, or the connection closing while the PIN is
    /// hashed).
    pub async fn create(&self, req: Create, caller: &Caller<'_>) -> Result<Binding> {
        let ws = &self.config.workspace;
        let name = validate::name(req.name.as_deref(), &ws.untitled)?;
        let attendee_name = validate::name(req.attendee_name.as_deref(), &ws.anonymous_attendee)?;
        let pin = validate::new_pin(req.pin.as_deref())?;
        if !self.take_create(caller.ip).await? {
            return Err(Error::RateLimited(Limit::Creates));
        }
        let pin_hash = match pin {
            Some(pin) => Some(self.hash_new_pin(pin, caller).await?),
            None => None,
        };
        let now = self.clock.now_ms();
        let wid = new_id(ws.id_len);
        let owner = new_member(new_id(ws.id_len), attendee_name, Role::Owner, now, caller);
        let owner_id = owner.id.clone();
        let state = State {
            name,
            owner: owner_id.clone(),
            admission: Admission::new(pin_hash, 0, Vec::new()),
            capacity: ws.max_capacity,
            created_at: now,
            members: IndexMap::new(),
            call: None,
            live: true,
            idle_since: None,
            replicas: Default::default(),
        };
        self.write(&[
            Change::PutWorkspace(state.record(&wid)),
            Change::PutMember(wid.clone(), owner.record()),
        ])?;
        self.commit().await?;
        if let Some(cluster) = &self.cluster {
            cluster.own(&wid).await.map_err(|e| {
                tracing::error!(workspace = %wid, "recording the owner of a new workspace failed: {e}");
                Error::Unavailable(Outage::Cluster)
            })?;
        }

        let workspace = Arc::new(Workspace::new(wid.clone(), self.router.node(), state));
        let mut state = workspace.lock();
        state
            .members
            .insert(owner_id.clone(), online(owner, caller));
        self.registry_mut().insert(wid.clone(), workspace.clone());
        let (token, claims) = self.tokens.session(&wid, &owner_id, Role::Owner);
        caller.reply(Reply::Created {
            workspace: state.info(&wid, self.invite(&wid, &state)),
            attendee: state.members[&owner_id].info(),
            token,
        });
        drop(state);
        tracing::info!(workspace = %wid, owner = %owner_id, "workspace created");
        Ok(bind(workspace, owner_id, Role::Owner, claims.exp))
    }

    /// [`Hub::attend`], on the node that owns the workspace.
    pub(super) async fn attend_here(&self, req: Attend, caller: &Caller<'_>) -> Result<Binding> {
        let invite = self.tokens.verify_invite(&req.invite)?;
        let name = validate::name(
            req.name.as_deref(),
            &self.config.workspace.anonymous_attendee,
        )?;
        let offered = validate::offered_pin(req.pin.as_deref())?;
        let Admissible {
            workspace,
            pin_hash,
            ..
        } = self.admissible(&invite, caller.ip)?;
        if let Some(hash) = &pin_hash {
            self.check_pin(&workspace.id, offered, hash.clone(), caller)
                .await?;
        }
        let id = self.reserve_seat(&workspace, name, invite.ver, &pin_hash, caller)?;
        if let Err(e) = self.commit_change(&workspace).await {
            self.release_seat(&workspace, &id);
            return Err(e);
        }

        let mut state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        let Some(member) = state.members.get_mut(&id) else {
            return Err(Error::Forbidden(Refusal::RemovedWhileJoining));
        };
        member.conn = Some(caller.link.clone());
        state.idle_since = None;
        let (token, claims) = self.tokens.session(&workspace.id, &id, Role::Attendee);
        let joined = self.joined(&workspace.id, &state, &id, token);
        self.replicate(&workspace.id, &mut state);
        caller.reply(Reply::Attended(joined));
        let attendee = state.members[&id].info();
        self.announce(
            &workspace.id,
            &mut state,
            &Push::AttendeeJoined { attendee },
            &id,
        );
        drop(state);
        tracing::info!(workspace = %workspace.id, attendee = %id, "attendee joined");
        Ok(bind(workspace, id, Role::Attendee, claims.exp))
    }

    /// Takes a seat for a newcomer, written to the store but not yet reachable. The
    /// owner may have rotated the invite, banned this address or changed the PIN while
    /// the PIN (`checked`) was being verified: the rules in force now decide.
    fn reserve_seat(
        &self,
        workspace: &Workspace,
        name: String,
        invite_version: u64,
        checked: &Option<String>,
        caller: &Caller<'_>,
    ) -> Result<String> {
        let mut state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        let now = self.clock.now_ms();
        state.admission.admits(invite_version, caller.ip, now)?;
        if state.admission.pin_hash.is_some() && state.admission.pin_hash != *checked {
            return Err(Error::WrongPin);
        }
        if state.members.len() >= state.capacity {
            return Err(Error::WorkspaceFull(state.capacity));
        }
        let id = new_id(self.config.workspace.id_len);
        let member = new_member(id.clone(), name, Role::Attendee, now, caller);
        self.write(&[Change::PutMember(workspace.id.clone(), member.record())])?;
        state.members.insert(id.clone(), member);
        Ok(id)
    }

    fn release_seat(&self, workspace: &Workspace, id: &str) {
        let mut state = workspace.lock();
        if state.members.shift_remove(id).is_some() {
            self.write_presence(&[Change::DropMember(workspace.id.clone(), id.to_string())]);
        }
    }

    /// The PIN check of `attend`. Every limit is reserved before the hash is computed
    /// (see `auth/pin_limits.rs`), so parallel guesses cannot exceed it; a locked-out
    /// guesser learns nothing, not even whether a PIN is missing. Waits and hashes end
    /// early when the connection closes.
    async fn check_pin(
        &self,
        wid: &str,
        offered: Option<&str>,
        hash: String,
        caller: &Caller<'_>,
    ) -> Result<()> {
        let attempt = self.pin_limits.attempt(wid, caller.ip, self.clock.now())?;
        // A missing PIN is refused without a hash, and does not count.
        let pin = offered.ok_or(Error::WrongPin)?;
        if !attempt.delay.is_zero() {
            unless_closed(caller, tokio::time::sleep(attempt.delay)).await?;
        }
        if unless_closed(caller, self.pins.verify(pin.to_string(), hash)).await?? {
            return Ok(());
        }
        attempt.failed(self.clock.now());
        tracing::info!(workspace = %wid, ip = %caller.ip, "wrong PIN");
        Err(Error::WrongPin)
    }

    /// [`Hub::re_attend`], on the node that owns the workspace.
    pub(super) fn re_attend_here(&self, token: &str, caller: &Caller<'_>) -> Result<Binding> {
        let claims = self.tokens.verify_session_lapsed(token)?;
        let lapsed = self.lapsed(claims.exp)?;
        self.rejoin(claims, caller).map_err(|e| match e {
            Error::WorkspaceNotFound | Error::InvalidToken(_) if lapsed => Error::ExpiredToken,
            e => e,
        })
    }

    /// Whether a session token's `exp` has passed; `expired_token` when it passed
    /// longer ago than the grace.
    fn lapsed(&self, exp: u64) -> Result<bool> {
        let now = now_secs();
        if exp >= now {
            return Ok(false);
        }
        if now - exp < self.config.auth.reattend_grace_secs {
            Ok(true)
        } else {
            Err(Error::ExpiredToken)
        }
    }

    fn rejoin(&self, claims: SessionClaims, caller: &Caller<'_>) -> Result<Binding> {
        let workspace = self.find(&claims.wid)?;
        let mut state = workspace.lock();
        if !state.live {
            return Err(Error::WorkspaceNotFound);
        }
        let member = state
            .members
            .get_mut(&claims.sub)
            .ok_or(Error::InvalidToken(TokenRefusal::MembershipGone))?;
        let role = member.role;
        let previous = member.conn.replace(caller.link.clone());
        member.addr = Some(caller.ip);
        member.offline_since = None;
        let record = member.record();
        if let Some(old) = &previous {
            if let Some((code, reason)) = old.codec.close(CloseReason::Replaced) {
                self.router.close(old.id, code, reason);
            }
        }
        state.idle_since = None;
        self.write_presence(&[
            Change::PutMember(workspace.id.clone(), record),
            Change::PutWorkspace(state.record(&workspace.id)),
        ]);
        let (token, new_claims) = self.tokens.session(&workspace.id, &claims.sub, role);
        let joined = self.joined(&workspace.id, &state, &claims.sub, token);
        self.replicate(&workspace.id, &mut state);
        caller.reply(Reply::ReAttended(joined));
        let online = Push::AttendeeOnline {
            attendee_id: claims.sub.clone(),
            name: state.members[&claims.sub].name.clone(),
            replaced: previous.is_some(),
        };
        self.announce(&workspace.id, &mut state, &online, &claims.sub);
        drop(state);
        tracing::info!(workspace = %workspace.id, attendee = %claims.sub, "attendee re-attended");
        Ok(bind(workspace, claims.sub, role, new_claims.exp))
    }

    /// What `attendee` is told on joining: the room as it is now.
    fn joined(&self, wid: &str, state: &State, attendee: &str, token: String) -> Joined {
        Joined {
            workspace: state.info(wid, self.invite(wid, state)),
            attendee: state.members[attendee].info(),
            token,
            attendees: state.attendees(),
            call: state.call.clone(),
        }
    }

    /// One of `ip`'s creates (`limits.creates_per_minute`), on every node together in a
    /// cluster. Errors: `unavailable` when Redis does not answer.
    async fn take_create(&self, ip: std::net::IpAddr) -> Result<bool> {
        let Some(cluster) = &self.cluster else {
            return Ok(self.creates.try_take(ip, self.clock.now()));
        };
        let per_minute = self.config.limits.creates_per_minute;
        cluster.take_create(ip, per_minute).await.map_err(|e| {
            tracing::warn!("the cluster's create limit did not answer: {e}");
            Error::Unavailable(Outage::Cluster)
        })
    }

    /// An invite of the workspace's current version: the only kind it admits.
    pub(super) fn invite(&self, wid: &str, state: &State) -> String {
        self.tokens.invite(wid, state.admission.invite_version)
    }

    /// Hashes a new PIN (`create`, `set-pin`) under a hash permit of the caller's
    /// address; abandoned when the connection closes.
    pub(super) async fn hash_new_pin(&self, pin: String, caller: &Caller<'_>) -> Result<String> {
        let _permit = self.pin_limits.hash(caller.ip)?;
        unless_closed(caller, self.pins.hash(pin)).await?
    }
}

/// A member not yet reachable: no socket, and not counted as offline either.
fn new_member(id: String, name: String, role: Role, now: u64, caller: &Caller<'_>) -> Member {
    Member {
        id,
        name,
        role,
        joined_at: now,
        conn: None,
        addr: Some(caller.ip),
        offline_since: None,
        mic: None,
        cam: None,
    }
}

fn online(mut member: Member, caller: &Caller<'_>) -> Member {
    member.conn = Some(caller.link.clone());
    member
}

fn bind(workspace: Arc<Workspace>, attendee: String, role: Role, exp: u64) -> Binding {
    Binding {
        workspace,
        attendee,
        role,
        exp,
    }
}

/// `work`, unless the caller's connection closes first (a kick, the server shutting
/// down): then nobody waits for the result.
async fn unless_closed<T>(
    caller: &Caller<'_>,
    work: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = caller.closed() => Err(Error::Unavailable(Outage::Closing)),
        done = work => Ok(done),
    }
}
