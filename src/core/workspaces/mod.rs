//! Workspaces: every workspace on this node, who is in it, and routing between members.
//!
//! The registry map is only locked to find, add or remove a workspace; everything else
//! happens under the one workspace's own lock (see `workspace.rs`). Lock order: a
//! workspace lock is never taken while the registry lock is held; the router's lock is
//! taken under a workspace lock, never the other way round.
//!
//! Every operation speaks in typed events ([`crate::core::event`]): a reply to the
//! caller, encoded with the caller's codec, and pushes to members, each encoded with its
//! own connection's codec. Errors are [`Error`]s; nothing is replied on an error, and
//! the adapter answers it in its protocol.

#![warn(missing_docs)]

mod admission;
mod entry;
mod execute;
mod expiry;
mod forward;
mod invites;
mod join;
mod locate;
mod membership;
mod moderation;
mod operator;
mod operator_entry;
mod persist;
mod relay;
pub mod request;
mod roster;
mod takeover;
mod workspace;

pub(crate) use forward::{Forwarded, Outcome};
pub use invites::InvitePreview;
pub use operator::{MemberDetail, Presence, WorkspaceDetail, WorkspaceSummary};
pub(crate) use roster::Roster;
pub(crate) use workspace::{Link, Workspace};

use crate::auth::limits::AddressLimiter;
use crate::auth::pin_limits::PinLimits;
use crate::auth::{PinHasher, Role, Tokens};
use crate::clock::Clock;
use crate::cluster::Cluster;
use crate::config::{Config, ConfigError};
use crate::core::conn::{Outbox, Router};
use crate::core::event::{Push, Reply, RequestId};
use crate::error::{Error, Result};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use thiserror::Error;

/// Every workspace on this node, and what guards joining them.
pub struct Hub {
    config: Arc<Config>,
    tokens: Tokens,
    pins: PinHasher,
    workspaces: RwLock<HashMap<String, Arc<Workspace>>>,
    creates: AddressLimiter,
    /// `GET /invite-info` per client address, at the request rate of a connection.
    invite_lookups: AddressLimiter,
    pin_limits: PinLimits,
    /// Where every acknowledged change is written before it is acknowledged.
    store: Arc<dyn Store>,
    /// Delivers to members by their connection's id.
    router: Arc<Router>,
    /// This node's cluster, if it is in one: who owns which workspace.
    cluster: Option<Arc<Cluster>>,
    /// The requests this node forwarded to workspaces' owners and awaits.
    awaiting: forward::Awaiting,
    /// Every time the hub and its limits read (see `clock.rs`).
    clock: Clock,
}

/// Why the hub could not start.
#[derive(Debug, Error)]
pub enum StartError {
    /// No usable JWT secret.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What ties a connection to one membership, once `create`, `attend` or `re-attend`
/// succeeded. It is re-checked against the workspace on every use.
pub struct Binding {
    pub(crate) workspace: Arc<Workspace>,
    pub(crate) attendee: String,
    pub(crate) role: Role,
    /// When the session token behind this binding expires (unix seconds).
    pub(crate) exp: u64,
}

impl Binding {
    /// The workspace id and the attendee id, for log lines.
    pub(crate) fn ids(&self) -> (&str, &str) {
        (&self.workspace.id, &self.attendee)
    }
}

/// Who is asking: its own queue (for its replies, and to know when it closes), its
/// connection as a member's link, its address, and the request id.
pub struct Caller<'a> {
    pub(crate) via: Via<'a>,
    pub(crate) link: &'a Link,
    pub(crate) ip: IpAddr,
    pub(crate) re: Option<&'a RequestId>,
}

/// How a caller's replies reach it.
pub enum Via<'a> {
    /// Its own queue: the caller's connection is on this node.
    Local(&'a Outbox),
    /// The router: the caller's connection is on another node, which forwarded the
    /// request to this one, the workspace's owner (`forward.rs`).
    Remote(&'a Router),
}

impl Caller<'_> {
    /// Queues the reply to this request.
    fn reply(&self, reply: Reply) {
        if let Some(frame) = self.link.codec.reply(self.re, &reply) {
            self.send(frame);
        }
    }

    /// Queues a push for the caller itself.
    fn push(&self, push: &Push) {
        if let Some(frame) = self.link.codec.push(push) {
            self.send(frame);
        }
    }

    fn send(&self, frame: bytestring::ByteString) {
        match self.via {
            Via::Local(out) => out.send(frame),
            Via::Remote(router) => router.send(self.link.id, frame),
        }
    }

    /// Resolves when the caller's connection closes; never for a caller on another
    /// node, whose node tells the owner when it closes (`Command::Disconnect`).
    async fn closed(&self) {
        match self.via {
            Via::Local(out) => out.closed().await,
            Via::Remote(_) => std::future::pending().await,
        }
    }
}

impl Hub {
    /// A hub holding what `store` holds, with every ttl that ran out while the server
    /// was down already applied. `config` must have been `prepare`d (the JWT secret is
    /// settled). Members are reached through `router`; time is read from `clock`.
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        router: Arc<Router>,
        cluster: Option<Arc<Cluster>>,
        clock: Clock,
    ) -> Result<Hub, StartError> {
        let secret = config
            .secrets
            .jwt
            .clone()
            .ok_or(crate::config::ConfigError::WeakSecret)?;
        let now = clock.now_ms();
        let workspaces = persist::restore(store.load()?, now, router.node());
        let limits = &config.limits;
        Ok(Hub {
            tokens: Tokens::new(
                &secret,
                config.auth.session_ttl_secs,
                config.workspace.invite_ttl_secs,
            ),
            pins: PinHasher::new(config.secrets.salt.clone()),
            workspaces: RwLock::new(workspaces),
            creates: AddressLimiter::per_minute(limits.creates_per_minute),
            invite_lookups: AddressLimiter::new(
                f64::from(limits.requests_per_second),
                f64::from(limits.request_burst),
            ),
            pin_limits: PinLimits::new(limits),
            config,
            store,
            router,
            cluster,
            awaiting: Default::default(),
            clock,
        })
        .inspect(|hub| {
            tracing::info!(workspaces = hub.workspace_count(), "storage loaded");
            hub.sweep(now);
        })
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many workspaces this node owns (for `/healthz`).
    pub fn workspace_count(&self) -> usize {
        self.owned().len()
    }

    /// The workspaces this node owns (every one, on a node on its own): its replicas
    /// are left out. Their locks are taken one at a time after the registry's is
    /// released (the lock order above).
    fn owned(&self) -> Vec<Arc<Workspace>> {
        let me = self.router.node();
        let registry = self.registry();
        registry
            .values()
            .filter(|ws| ws.holder() == me)
            .cloned()
            .collect()
    }

    /// Lets go of a workspace that ended: here, and as its owner in the cluster.
    fn forget(&self, wid: &str) {
        self.registry_mut().remove(wid);
        if let Some(cluster) = &self.cluster {
            cluster.disown(wid);
        }
    }

    /// A workspace this node owns (a replica is not one to decide for).
    fn find(&self, wid: &str) -> Result<Arc<Workspace>> {
        self.registry()
            .get(wid)
            .filter(|ws| ws.holder() == self.router.node())
            .cloned()
            .ok_or(Error::WorkspaceNotFound)
    }

    /// Whether this node may ask the others: it is not in a cluster, or Redis answers.
    fn cluster_up(&self) -> bool {
        self.cluster.as_ref().is_none_or(|c| c.redis_up())
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Workspace>>> {
        self.workspaces.read().unwrap_or_else(|p| p.into_inner())
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Workspace>>> {
        self.workspaces.write().unwrap_or_else(|p| p.into_inner())
    }
}
