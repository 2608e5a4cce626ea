//! The bus: every node subscribes to a channel of its own (`sb:n:<node>`) and to one
//! all nodes share (`sb:all`), and publishes to the others' through one writer task.
//!
//! Order: one node's messages to another are published in the order they were made
//! (one queue, one writer, one connection), and Redis hands a channel's messages to its
//! subscriber in the order it executed the PUBLISHes; the receiving node handles them
//! one at a time, in that order. So what one member sends another arrives in order,
//! and a roster change reaches a node before the pushes that follow it.
//!
//! Redis down: messages are dropped, not queued, and counted: a relay delivered seconds
//! late is worse than none, and nothing acknowledged travels only on the bus.

use super::metrics::ClusterMetrics;
use super::redis::Health;
use super::wire::{self, Message, Mode};
use bytes::Bytes;
use bytestring::ByteString;
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// The channel every node subscribes to.
pub(crate) const ALL: &str = "sb:all";
/// Messages waiting for the writer; past this, new ones are dropped.
const QUEUE: usize = 65_536;
/// The most PUBLISHes sent in one pipeline: one round trip carries a burst.
const BATCH: usize = 256;

/// The channel of node `node`.
pub(crate) fn channel(node: u64) -> String {
    format!("sb:n:{node:016x}")
}

/// The sending side of the bus; cheap to share.
pub(crate) struct Bus {
    node: u64,
    queue: mpsc::Sender<(String, Bytes)>,
    health: Arc<Health>,
    metrics: Arc<ClusterMetrics>,
}

impl Bus {
    /// A bus for node `node` whose writer publishes on `conn`; returns the writer task
    /// to spawn.
    pub(crate) fn new(
        node: u64,
        conn: ConnectionManager,
        health: Arc<Health>,
        metrics: Arc<ClusterMetrics>,
    ) -> (Bus, impl std::future::Future<Output = ()>) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let writer = write(rx, conn, health.clone(), metrics.clone());
        let bus = Bus {
            node,
            queue,
            health,
            metrics,
        };
        (bus, writer)
    }

    /// This node's number (the `node` of its connections' `ConnId`s).
    pub(crate) fn node(&self) -> u64 {
        self.node
    }

    /// `text` for connections `to` of node `node`.
    pub(crate) fn deliver(&self, node: u64, mode: Mode, to: &[u64], text: &ByteString) {
        self.publish(channel(node), wire::deliver(mode, to, text));
    }

    /// A close frame for connections `to` of node `node`.
    pub(crate) fn close(&self, node: u64, to: &[u64], code: u16, reason: &str) {
        self.publish(channel(node), wire::close(code, to, reason));
    }

    /// A control message for node `node`.
    pub(crate) fn tell(&self, node: u64, control: &super::control::Control) {
        self.publish(channel(node), wire::control(control));
    }

    /// A control message for node `node`, encoded already (one encoding for several
    /// nodes).
    pub(crate) fn tell_encoded(&self, node: u64, message: Bytes) {
        self.publish(channel(node), message);
    }

    /// A control message for every node, this one included.
    pub(crate) fn tell_all(&self, control: &super::control::Control) {
        self.publish(ALL.to_string(), wire::control(control));
    }

    fn publish(&self, channel: String, message: Bytes) {
        if !self.health.is_up() {
            self.metrics.dropped(super::metrics::BusDrop::RedisDown, 1);
            return;
        }
        if self.queue.try_send((channel, message)).is_err() {
            self.metrics.dropped(super::metrics::BusDrop::QueueFull, 1);
        }
    }
}

/// The writer: publishes what is queued, a pipeline per burst, in queue order.
async fn write(
    mut rx: mpsc::Receiver<(String, Bytes)>,
    mut conn: ConnectionManager,
    health: Arc<Health>,
    metrics: Arc<ClusterMetrics>,
) {
    let mut burst = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut burst, BATCH).await > 0 {
        let mut pipe = redis::pipe();
        for (channel, message) in burst.drain(..) {
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(message.as_ref())
                .ignore();
        }
        let count = pipe.len() as u64;
        let start = Instant::now();
        match pipe.query_async::<()>(&mut conn).await {
            Ok(()) => metrics.published(count, start.elapsed()),
            Err(e) => {
                metrics.dropped(super::metrics::BusDrop::RedisDown, count);
                // Requests awaiting answers may have been in this pipeline: they end
                // now (see `calls.rs`), and the next heartbeat tells whether Redis is
                // back.
                if health.failed(start) {
                    tracing::warn!("bus publish failed: {e}");
                }
            }
        }
    }
}

/// Decodes one received message; an unreadable one is logged and skipped.
pub(crate) fn read(payload: Bytes) -> Option<Message> {
    match wire::decode(payload) {
        Ok(message) => Some(message),
        Err(e) => {
            tracing::warn!("{e}");
            None
        }
    }
}
