//! Delivery to a connection by its [`ConnId`]. Every open connection of every protocol
//! is registered here, so shutdown reaches each one whatever it is doing (a connection
//! waiting on a PIN hash is sent its 1001 by the outbox, not when the hash is done).
//!
//! In a cluster, a `ConnId` of another node is delivered through the bus: one PUBLISH
//! to that node's channel, and its own router queues the frame there. Whether the
//! target's queue had room is then that node's to count, not the sender's to hear.

use super::{ConnId, Full, Outbox};
use crate::cluster::wire::Mode;
use crate::cluster::Bus;
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Every open connection of this node, by [`ConnId`].
pub struct Router {
    node: u64,
    /// Local connection number to its outbox. Written to register and unregister a
    /// connection; read for every delivery.
    conns: RwLock<HashMap<u64, Outbox>>,
    /// The bus to the other nodes; `None` on a node on its own.
    bus: Option<Arc<Bus>>,
}

/// Unregisters its connection from the [`Router`] when dropped.
pub struct Registered {
    router: Arc<Router>,
    id: ConnId,
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Undelivered {
    /// No open connection has this id.
    Gone,
    /// The target's queue is too full for another relay (see [`Outbox::relay`]).
    Full,
}

impl Router {
    /// A router for node number `node` (0 on a single node).
    pub fn new(node: u64) -> Router {
        Router {
            node,
            conns: RwLock::default(),
            bus: None,
        }
    }

    /// The router of a cluster node: its number is the bus's, and connections of other
    /// nodes are reached through the bus.
    pub(crate) fn clustered(bus: Arc<Bus>) -> Router {
        Router {
            node: bus.node(),
            conns: RwLock::default(),
            bus: Some(bus),
        }
    }

    /// This node's number.
    pub fn node(&self) -> u64 {
        self.node
    }

    /// The bus to the other nodes, on a cluster node.
    pub(crate) fn bus(&self) -> Option<&Arc<Bus>> {
        self.bus.as_ref()
    }

    /// The address of a local connection.
    pub fn id_of(&self, out: &Outbox) -> ConnId {
        ConnId {
            node: self.node,
            local: out.id(),
        }
    }

    /// Makes `out` reachable by its [`ConnId`] until the returned guard is dropped.
    pub fn register(self: &Arc<Self>, out: &Outbox) -> Registered {
        let id = self.id_of(out);
        self.write().insert(id.local, out.clone());
        Registered {
            router: self.clone(),
            id,
        }
    }

    /// Queues a relayed frame for `to`, as [`Outbox::relay`] does: refused while the
    /// target's queue holds half of its limit.
    pub fn relay(&self, to: ConnId, text: ByteString) -> Result<(), Undelivered> {
        if self.remote(to, Mode::Relay, &text) {
            return Ok(());
        }
        let out = self.local(to).ok_or(Undelivered::Gone)?;
        out.relay(text).map_err(|Full| Undelivered::Full)
    }

    /// Queues a frame for `to` sent to several connections at once, as [`Outbox::offer`]
    /// does: skipped for a target whose queue holds half of its limit.
    pub fn offer(&self, to: ConnId, text: &ByteString) {
        if self.remote(to, Mode::Offer, text) {
            return;
        }
        if let Some(out) = self.local(to) {
            out.offer(text);
        }
    }

    /// Queues a frame for `to` that it must get (the end of its membership), as
    /// [`Outbox::send`] does: a target past its queue's limit is closed 1008.
    pub fn send(&self, to: ConnId, text: ByteString) {
        if self.remote(to, Mode::Send, &text) {
            return;
        }
        if let Some(out) = self.local(to) {
            out.send(text);
        }
    }

    /// Queues a close frame for `to` after what it has queued.
    pub fn close(&self, to: ConnId, code: u16, reason: &'static str) {
        if let Some(bus) = self.bus.as_ref().filter(|_| to.node != self.node) {
            bus.close(to.node, &[to.local], code, reason);
            return;
        }
        if let Some(out) = self.local(to) {
            out.close(code, reason);
        }
    }

    /// The outbox of a connection on this node, if it is open.
    pub fn local(&self, to: ConnId) -> Option<Outbox> {
        if to.node != self.node {
            return None;
        }
        self.read().get(&to.local).cloned()
    }

    /// The outbox of this node's connection number `local`, if it is open.
    pub(crate) fn local_number(&self, local: u64) -> Option<Outbox> {
        self.read().get(&local).cloned()
    }

    /// Publishes `text` for a connection of another node; false when `to` is local (or
    /// there is no cluster, where another node's id names nobody).
    fn remote(&self, to: ConnId, mode: Mode, text: &ByteString) -> bool {
        match &self.bus {
            Some(bus) if to.node != self.node => {
                bus.deliver(to.node, mode, &[to.local], text);
                true
            }
            _ => false,
        }
    }

    /// Connections open on this node.
    pub fn open_count(&self) -> usize {
        self.read().len()
    }

    /// Queues a close frame on every open connection.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for out in self.read().values() {
            out.close(code, reason);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Outbox>> {
        // Plain inserts and removes: a panic elsewhere cannot leave the map half-changed.
        self.conns.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<u64, Outbox>> {
        self.conns.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Registered {
    /// The registered connection's address.
    pub fn id(&self) -> ConnId {
        self.id
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.router.write().remove(&self.id.local);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_closed_connection_is_gone_and_its_id_is_never_reused() {
        let router = Arc::new(Router::new(0));
        let (out, _rx) = Outbox::new(1000, Duration::from_secs(10));
        let registered = router.register(&out);
        let id = registered.id();
        assert_eq!(router.relay(id, "hi".into()), Ok(()));
        drop(registered);
        assert_eq!(router.relay(id, "hi".into()), Err(Undelivered::Gone));
        let (next, _rx) = Outbox::new(1000, Duration::from_secs(10));
        assert_ne!(router.register(&next).id(), id);
    }

    #[test]
    fn another_nodes_id_names_nobody_here() {
        let router = Arc::new(Router::new(0));
        let (out, _rx) = Outbox::new(1000, Duration::from_secs(10));
        let registered = router.register(&out);
        let elsewhere = ConnId {
            node: 1,
            ..registered.id()
        };
        assert_eq!(router.relay(elsewhere, "hi".into()), Err(Undelivered::Gone));
    }
}
