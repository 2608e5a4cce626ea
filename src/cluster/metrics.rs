//! The cluster's own series (docs/operations.md, "Cluster"): whether Redis answers, how
//! long the bus takes to publish, what it dropped, and the nodes alive with their
//! members. Registered beside the others only on a cluster node.

use super::redis::Health;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the bus did not carry a message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BusDrop {
    /// Redis was down (or the PUBLISH failed).
    RedisDown,
    /// The writer's queue was full.
    QueueFull,
    /// The target connection was gone when the message arrived.
    ReceiverGone,
    /// The target connection's queue was too full for a relay.
    ReceiverFull,
}

impl BusDrop {
    const ALL: [BusDrop; 4] = [
        BusDrop::RedisDown,
        BusDrop::QueueFull,
        BusDrop::ReceiverGone,
        BusDrop::ReceiverFull,
    ];

    fn label(self) -> &'static str {
        match self {
            BusDrop::RedisDown => "redis_down",
            BusDrop::QueueFull => "queue_full",
            BusDrop::ReceiverGone => "receiver_gone",
            BusDrop::ReceiverFull => "receiver_full",
        }
    }
}

/// One live node as the last heartbeat round saw it.
#[derive(Debug, Clone)]
pub(crate) struct NodeSeen {
    pub(crate) node_id: String,
    pub(crate) members: u64,
}

/// Every cluster count of one node.
pub(crate) struct ClusterMetrics {
    published: AtomicU64,
    dropped: [AtomicU64; BusDrop::ALL.len()],
    /// One observation per pipeline of PUBLISHes: the round trip to Redis.
    publish_latency: Histogram,
    /// The live nodes, from the last heartbeat.
    nodes: Mutex<Vec<NodeSeen>>,
}

impl Default for ClusterMetrics {
    fn default() -> Self {
        ClusterMetrics {
            published: AtomicU64::new(0),
            dropped: Default::default(),
            // 50 µs to about 1.6 s.
            publish_latency: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            nodes: Mutex::default(),
        }
    }
}

impl ClusterMetrics {
    pub(crate) fn published(&self, count: u64, took: Duration) {
        self.published.fetch_add(count, Ordering::Relaxed);
        self.publish_latency.observe(took.as_secs_f64());
    }

    pub(crate) fn dropped(&self, why: BusDrop, count: u64) {
        self.dropped[why as usize].fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn dropped_count(&self, why: BusDrop) -> u64 {
        self.dropped[why as usize].load(Ordering::Relaxed)
    }

    pub(crate) fn set_nodes(&self, nodes: Vec<NodeSeen>) {
        *self.nodes.lock().unwrap_or_else(|p| p.into_inner()) = nodes;
    }

    pub(crate) fn nodes(&self) -> Vec<NodeSeen> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Registers the cluster's series in `registry`.
    pub(crate) fn register(self: &Arc<Self>, registry: &mut Registry, health: Arc<Health>) {
        registry.register_with_unit(
            "cluster_bus_publish",
            "Round trip of one pipeline of PUBLISHes to Redis",
            Unit::Seconds,
            self.publish_latency.clone(),
        );
        registry.register_collector(Box::new(Scraped {
            metrics: self.clone(),
            health,
        }));
    }
}

/// What is read at scrape time.
struct Scraped {
    metrics: Arc<ClusterMetrics>,
    health: Arc<Health>,
}

impl std::fmt::Debug for Scraped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scraped")
    }
}

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let up = ConstGauge::new(i64::from(self.health.is_up()));
        up.encode(encoder.encode_descriptor(
            "cluster_redis_up",
            "1 while Redis answers this node's heartbeats",
            None,
            MetricType::Gauge,
        )?)?;
        let published = ConstCounter::new(self.metrics.published.load(Ordering::Relaxed));
        published.encode(encoder.encode_descriptor(
            "cluster_bus_published",
            "Messages published to other nodes",
            None,
            MetricType::Counter,
        )?)?;
        let mut dropped = encoder.encode_descriptor(
            "cluster_bus_dropped",
            "Bus messages not delivered, by reason",
            None,
            MetricType::Counter,
        )?;
        for why in BusDrop::ALL {
            let count = ConstCounter::new(self.metrics.dropped_count(why));
            count.encode(dropped.encode_family(&[("reason", why.label())])?)?;
        }
        let nodes = self.metrics.nodes();
        ConstGauge::new(nodes.len() as i64).encode(encoder.encode_descriptor(
            "cluster_nodes_alive",
            "Nodes whose heartbeat is current, this one included",
            None,
            MetricType::Gauge,
        )?)?;
        let mut members = encoder.encode_descriptor(
            "cluster_node_members",
            "Members online on each live node, as its last heartbeat told",
            None,
            MetricType::Gauge,
        )?;
        for node in &nodes {
            let labels = [("node", node.node_id.as_str())];
            ConstGauge::new(node.members as i64).encode(members.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
