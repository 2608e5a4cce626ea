//! Peer-id routing for the protocols that have no workspaces (signal-fire,
//! webrtc-bootstrap, Peero): within a namespace, connections register under an id the
//! server chose, and frames are sent to an id, broadcast, or the ids listed.
//!
//! A namespace holds addresses, not sockets: delivery goes through the [`Router`], so
//! the peers of one namespace may sit on several nodes. Frames are encoded by the
//! sender's adapter: every peer of a namespace speaks its protocol. In a cluster every
//! node keeps the whole namespace, kept current over the bus (`replica.rs`): a send
//! looks up its target here and costs one PUBLISH when it is elsewhere.

mod replica;

pub(crate) use replica::Entry;

use super::conn::{ConnId, Router, Undelivered};
use crate::core::conn::outbox::{CLOSE_NORMAL, CLOSE_REPLACED};
use bytestring::ByteString;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Every namespace: one per protocol, so that peers of one protocol never see another's.
pub(crate) struct Switch {
    pub(crate) signal_fire: Arc<Namespace>,
    pub(crate) peero: Arc<Namespace>,
    /// webrtc-bootstrap's root, alone under [`Switch::ROOT`]: one per cluster.
    pub(crate) bootstrap_root: Arc<Namespace>,
    /// webrtc-bootstrap's `/join` sockets.
    pub(crate) bootstrap_joins: Arc<Namespace>,
}

impl Switch {
    /// The one id in `bootstrap_root`.
    pub(crate) const ROOT: &'static str = "root";

    pub(crate) fn new(router: &Arc<Router>) -> Switch {
        let namespace =
            |name, displaced| Arc::new(Namespace::named(name, router.clone(), displaced));
        Switch {
            signal_fire: namespace("signal_fire", (CLOSE_NORMAL, "")),
            peero: namespace("peero", (CLOSE_NORMAL, "")),
            bootstrap_root: namespace("bootstrap_root", (CLOSE_REPLACED, REPLACED_ROOT)),
            bootstrap_joins: namespace("bootstrap_joins", (CLOSE_NORMAL, "bootstrap id reused")),
        }
    }

    /// Every namespace, for the bus.
    pub(crate) fn all(&self) -> [&Arc<Namespace>; 4] {
        [
            &self.signal_fire,
            &self.peero,
            &self.bootstrap_root,
            &self.bootstrap_joins,
        ]
    }

    /// The namespace called `name` on the bus.
    pub(crate) fn named(&self, name: &str) -> Option<&Arc<Namespace>> {
        self.all().into_iter().find(|ns| ns.name == name)
    }
}

/// The reason a webrtc-bootstrap root is closed with when a newer root connects.
pub(crate) const REPLACED_ROOT: &str = "replaced by a newer root";

/// One namespace of peer ids.
pub(crate) struct Namespace {
    /// Its name on the bus.
    name: &'static str,
    router: Arc<Router>,
    /// Peer id to its connection, and when it registered. Written on register and
    /// unregister (here or, in a cluster, on another node); read per frame.
    peers: RwLock<HashMap<String, Entry>>,
    /// The close of a connection of this node whose id a newer connection on another
    /// node took.
    displaced: (u16, &'static str),
}

/// The id is in use in this namespace (ids are random: this is a retry, not an error a
/// client can cause).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Taken;

impl Namespace {
    /// A namespace of a node on its own.
    #[cfg(test)]
    pub(crate) fn new(router: Arc<Router>) -> Namespace {
        Namespace::named("test", router, (CLOSE_NORMAL, ""))
    }

    fn named(name: &'static str, router: Arc<Router>, displaced: (u16, &'static str)) -> Namespace {
        Namespace {
            name,
            router,
            peers: RwLock::default(),
            displaced,
        }
    }

    /// Registers `conn` as `id`, unless the id is taken.
    pub(crate) fn register(&self, id: &str, conn: ConnId) -> Result<(), Taken> {
        let entry = Entry::new(conn);
        {
            let mut peers = self.write();
            if peers.contains_key(id) {
                return Err(Taken);
            }
            peers.insert(id.to_string(), entry);
        }
        self.announce(id, Some(entry), None);
        Ok(())
    }

    /// Registers `conn` as `id` in place of whoever held it; returns the one replaced.
    pub(crate) fn replace(&self, id: &str, conn: ConnId) -> Option<ConnId> {
        let entry = Entry::new(conn);
        let older = self.write().insert(id.to_string(), entry);
        self.announce(id, Some(entry), None);
        older.map(|e| e.conn)
    }

    /// Removes `id` if `conn` still holds it (a replaced connection removes nobody).
    /// Returns whether it did.
    pub(crate) fn unregister(&self, id: &str, conn: ConnId) -> bool {
        let removed = {
            let mut peers = self.write();
            if peers.get(id).is_some_and(|e| e.conn == conn) {
                peers.remove(id)
            } else {
                None
            }
        };
        if removed.is_some() {
            self.announce(id, None, Some(conn));
        }
        removed.is_some()
    }

    /// The connection registered as `id`.
    pub(crate) fn lookup(&self, id: &str) -> Option<ConnId> {
        self.read().get(id).map(|e| e.conn)
    }

    /// Queues `text` for the peer `to`, as a relay: refused while its queue is half
    /// full ([`crate::core::conn::Outbox::relay`]).
    pub(crate) fn send(&self, to: &str, text: ByteString) -> Result<(), Undelivered> {
        let conn = self.lookup(to).ok_or(Undelivered::Gone)?;
        self.router.relay(conn, text)
    }

    /// Queues `text` for every peer but `except`; returns the connections whose queue
    /// was too full to take it.
    pub(crate) fn broadcast(&self, except: &str, text: &ByteString) -> Vec<ConnId> {
        // Addresses are copied out so that no delivery happens under the namespace lock.
        let targets: Vec<ConnId> = self
            .read()
            .iter()
            .filter(|(id, _)| id.as_str() != except)
            .map(|(_, entry)| entry.conn)
            .collect();
        targets
            .into_iter()
            .filter(|conn| self.router.relay(*conn, text.clone()) == Err(Undelivered::Full))
            .collect()
    }

    /// Every registered id but `except`.
    pub(crate) fn list(&self, except: &str) -> Vec<String> {
        self.read()
            .keys()
            .filter(|id| id.as_str() != except)
            .cloned()
            .collect()
    }

    /// Closes `conn`, if it is still open.
    pub(crate) fn close(&self, conn: ConnId, code: u16, reason: &'static str) {
        self.router.close(conn, code, reason);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Entry>> {
        // Plain inserts and removes: a panic elsewhere cannot leave the map half-changed.
        self.peers.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.peers.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conn::{Outbox, OutboxReceiver, Outgoing, Registered};
    use std::time::Duration;

    fn peer(router: &Arc<Router>) -> (Registered, OutboxReceiver) {
        let (out, rx) = Outbox::new(1000, Duration::from_secs(10));
        (router.register(&out), rx)
    }

    fn text(rx: &mut OutboxReceiver) -> Option<String> {
        let waker = futures_util::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        match rx.poll_recv(&mut cx) {
            std::task::Poll::Ready(Some(Outgoing::Text(t))) => Some(t.to_string()),
            _ => None,
        }
    }

    #[test]
    fn frames_reach_the_named_peer_and_broadcasts_skip_the_sender() {
        let router = Arc::new(Router::new(0));
        let ns = Namespace::new(router.clone());
        let (a, mut rx_a) = peer(&router);
        let (b, mut rx_b) = peer(&router);
        ns.register("a", a.id()).unwrap();
        ns.register("b", b.id()).unwrap();
        assert_eq!(ns.register("b", a.id()), Err(Taken));
        ns.send("b", "to b".into()).unwrap();
        assert_eq!(text(&mut rx_b).as_deref(), Some("to b"));
        assert!(ns.broadcast("a", &"all".into()).is_empty());
        assert_eq!(text(&mut rx_b).as_deref(), Some("all"));
        assert_eq!(text(&mut rx_a), None);
        assert_eq!(ns.send("c", "x".into()), Err(Undelivered::Gone));
        assert_eq!(ns.list("a"), vec!["b".to_string()]);
    }

    #[test]
    fn a_replaced_connection_unregisters_nobody() {
        let router = Arc::new(Router::new(0));
        let ns = Namespace::new(router.clone());
        let (old, _rx_old) = peer(&router);
        let (new, _rx_new) = peer(&router);
        ns.register("root", old.id()).unwrap();
        assert_eq!(ns.replace("root", new.id()), Some(old.id()));
        assert!(!ns.unregister("root", old.id()));
        assert_eq!(ns.lookup("root"), Some(new.id()));
        assert!(ns.unregister("root", new.id()));
        assert_eq!(ns.lookup("root"), None);
    }
}
