//! The cluster: several nodes sharing one Redis (DESIGN.md, "Cluster";
//! docs/cluster.md). Each node has a number drawn at start (the `node` of its
//! connections' [`ConnId`]s, and the name of its bus channel), a heartbeat, and the bus
//! through which it delivers to connections on other nodes and keeps what it caches of
//! the others (peer ids, workspace rosters) current.
//!
//! Nothing here knows a protocol: received frames go to the [`Router`]'s local outboxes,
//! and control messages to the [`Inbound`] the server installs.
//!
//! [`ConnId`]: crate::core::conn::ConnId

mod bus;
pub(crate) mod calls;
pub(crate) mod control;
mod inbound;
mod limits;
mod liveness;
pub(crate) mod metrics;
pub(crate) mod placement;
mod redis;
pub(crate) mod wire;

pub(crate) use self::bus::Bus;
pub(crate) use self::redis::Health;
pub use self::redis::Unreachable;

use self::control::Control;
use self::metrics::{BusDrop, ClusterMetrics};
use self::wire::{Message, Mode};
use crate::config::ClusterConfig;
use crate::core::conn::{Full, Router};
use ::redis::aio::ConnectionManager;
use ::redis::{PushInfo, PushKind, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// What the rest of the server does with the cluster's news.
pub(crate) trait Inbound: Send + Sync + 'static {
    /// A control message from another node (or this one, on the shared channel).
    fn control(self: Arc<Self>, control: Control);
    /// Node `node` is gone: forget its connections.
    fn node_died(&self, node: u64);
    /// Redis answers again after an outage: re-announce what the others may have missed.
    fn redis_back(&self);
    /// This node was declared dead while cut off: close every connection.
    fn buried(&self);
    /// Members online on this node, for the heartbeat.
    fn members(&self) -> u64;
}

/// One node's membership of the cluster.
pub struct Cluster {
    /// This run's number: random, so that a restarted node never reuses a `ConnId`.
    pub(crate) node: u64,
    /// `[cluster] node_id`, or a random name.
    pub(crate) node_id: String,
    heartbeat: Duration,
    /// The Redis address without its password.
    location: String,
    pub(crate) health: Arc<Health>,
    pub(crate) metrics: Arc<ClusterMetrics>,
    pub(crate) bus: Arc<Bus>,
    /// Heartbeats, scripts, the store.
    pub(crate) commands: ConnectionManager,
    subscriber: ConnectionManager,
    /// The bus writer's connection, pinged with every heartbeat.
    publisher: ConnectionManager,
    inbound: OnceLock<Weak<dyn Inbound>>,
    /// Nodes whose death this node has handled.
    dead: Mutex<HashSet<u64>>,
    /// The live nodes of the last heartbeat.
    live: Mutex<HashSet<u64>>,
}

/// The parts of a started cluster that [`Cluster::serve`] runs.
pub(crate) struct Pending {
    pushes: UnboundedReceiver<PushInfo>,
    writer: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Cluster {
    /// Connects to Redis and joins: subscribes to this node's channel and the shared
    /// one. Fails when Redis does not answer.
    pub(crate) async fn join(
        config: &ClusterConfig,
    ) -> Result<(Arc<Cluster>, Pending), Unreachable> {
        let url = config.redis_url.clone().unwrap_or_default();
        let location = config.redis_display().unwrap_or_default();
        let mut conns = self::redis::connect(&url, &location).await?;
        let node = loop {
            let n = rand::random::<u64>();
            if n != 0 {
                break n;
            }
        };
        let node_id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", &liveness::key(node)[..8]));
        let unreachable = |e: ::redis::RedisError| Unreachable {
            location: location.clone(),
            cause: e.to_string(),
        };
        conns
            .subscriber
            .subscribe(&[bus::channel(node), bus::ALL.to_string()])
            .await
            .map_err(unreachable)?;
        let health = Arc::new(Health::default());
        health.set(true);
        let metrics = Arc::new(ClusterMetrics::default());
        // Until the first heartbeat answers, the node knows of itself.
        metrics.set_nodes(vec![metrics::NodeSeen {
            node_id: node_id.clone(),
            members: 0,
        }]);
        let publisher = conns.bus.clone();
        let (bus, writer) = Bus::new(node, conns.bus, health.clone(), metrics.clone());
        let cluster = Arc::new(Cluster {
            node,
            node_id,
            heartbeat: Duration::from_secs(config.heartbeat_secs),
            location: location.clone(),
            health,
            metrics,
            bus: Arc::new(bus),
            commands: conns.commands,
            subscriber: conns.subscriber,
            publisher,
            inbound: OnceLock::new(),
            dead: Mutex::default(),
            live: Mutex::default(),
        });
        cluster.bury_earlier_runs().await.map_err(unreachable)?;
        tracing::info!(node = %cluster.node_id, number = %liveness::key(node), redis = %cluster.location, "joined the cluster");
        let pending = Pending {
            pushes: conns.pushes,
            writer: Box::pin(writer),
        };
        Ok((cluster, pending))
    }

    /// Starts the bus's writer and reader and the heartbeat; received frames go to
    /// `router`, the rest to `inbound`.
    pub(crate) fn serve(
        self: &Arc<Self>,
        pending: Pending,
        router: Arc<Router>,
        inbound: Weak<dyn Inbound>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let _ = self.inbound.set(inbound.clone());
        let members = move || inbound.upgrade().map_or(0, |i| i.members());
        vec![
            tokio::spawn(pending.writer),
            tokio::spawn(self.clone().read(pending.pushes, router)),
            tokio::spawn(self.clone().heartbeat(members)),
        ]
    }

    /// Handles what the subscriber receives, one message at a time, in order.
    async fn read(self: Arc<Self>, mut pushes: UnboundedReceiver<PushInfo>, router: Arc<Router>) {
        while let Some(push) = pushes.recv().await {
            match push.kind {
                PushKind::Message => {
                    let Some(Value::BulkString(payload)) = push.data.into_iter().nth(1) else {
                        continue;
                    };
                    if let Some(message) = bus::read(payload.into()) {
                        self.receive(message, &router);
                    }
                }
                PushKind::Disconnection => {
                    tracing::debug!("bus subscriber disconnected; reconnecting");
                }
                _ => {}
            }
        }
    }

    fn receive(&self, message: Message, router: &Router) {
        match message {
            Message::Deliver { mode, to, text } => {
                for local in to {
                    let Some(out) = router.local_number(local) else {
                        self.metrics.dropped(BusDrop::ReceiverGone, 1);
                        continue;
                    };
                    match mode {
                        Mode::Relay => {
                            if let Err(Full) = out.relay(text.clone()) {
                                self.metrics.dropped(BusDrop::ReceiverFull, 1);
                            }
                        }
                        Mode::Offer => out.offer(&text),
                        Mode::Send => out.send(text.clone()),
                    }
                }
            }
            Message::Close { code, to, reason } => {
                let reason = crate::core::conn::outbox::known_reason(&reason);
                for local in to {
                    if let Some(out) = router.local_number(local) {
                        out.close(code, reason);
                    }
                }
            }
            Message::Control(Control::NodeDead { node }) => self.node_died(node),
            Message::Control(control) => {
                if let Some(inbound) = self.inbound() {
                    inbound.control(control);
                }
            }
        }
    }

    fn inbound(&self) -> Option<Arc<dyn Inbound>> {
        self.inbound.get().and_then(Weak::upgrade)
    }

    /// Handles the death of `node` once, however this node learnt of it.
    fn node_died(&self, node: u64) {
        if node == self.node {
            return;
        }
        if !self
            .dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(node)
        {
            return;
        }
        tracing::warn!(node = %liveness::key(node), "node gone: forgetting its connections");
        if let Some(inbound) = self.inbound() {
            inbound.node_died(node);
        }
    }

    /// Nodes that were in the lists at the last heartbeat and are not now were buried,
    /// even if their `NodeDead` was published while this node's subscriber was away.
    fn forget_missing(&self, live: &[u64]) {
        let now: HashSet<u64> = live.iter().copied().collect();
        // A node seen alive again (it rose after being declared dead) may die again.
        self.dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|n| !now.contains(n));
        let before = std::mem::replace(
            &mut *self.live.lock().unwrap_or_else(|p| p.into_inner()),
            now.clone(),
        );
        for node in before.difference(&now) {
            self.node_died(*node);
        }
    }

    fn on_redis_back(&self) {
        if let Some(inbound) = self.inbound() {
            inbound.redis_back();
        }
    }

    fn on_buried(&self) {
        if let Some(inbound) = self.inbound() {
            inbound.buried();
        }
    }

    /// Asks every node for what it holds (peer ids, rosters), as a node that just
    /// joined, or may have missed messages, must.
    pub(crate) fn resync(&self) {
        self.bus.tell_all(&Control::Resync { node: self.node });
    }

    /// The cluster's store: workspaces in Redis, with every write and flush timed into
    /// `counters`.
    pub(crate) async fn open_store(
        &self,
        counters: &crate::core::counters::Counters,
    ) -> Result<Arc<dyn crate::store::Store>, crate::store::StoreError> {
        let store =
            crate::store::RedisStore::open(self.commands.clone(), self.location.clone()).await?;
        Ok(crate::store::timed(Arc::new(store), counters))
    }

    /// Adds the cluster's series to the node's registry.
    pub(crate) fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.metrics.register(registry, self.health.clone());
    }

    /// Leaves the cluster on a clean stop: the others forget this node's connections now
    /// rather than three heartbeats later.
    pub(crate) async fn leave(&self) {
        self.bury(self.node).await;
    }

    /// Whether Redis answered the last heartbeat.
    pub fn redis_up(&self) -> bool {
        self.health.is_up()
    }
}
