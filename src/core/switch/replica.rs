//! A namespace across the cluster: every node holds every peer id, and tells the others
//! of each change on the shared channel. Conflicts (two nodes giving one id at once;
//! only webrtc-bootstrap's single root can meet one) are settled by the newer stamp on
//! every node alike, and the node that holds the losing connection closes it.
//!
//! A node that may have missed changes (it just joined, or its subscriber reconnected)
//! asks everyone to resend theirs; each answers with all of its own entries, which
//! replace whatever the asker held for that node.

use super::Namespace;
use crate::cluster::control::Control;
use crate::core::conn::ConnId;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// When an id was given, to order conflicting changes: unix milliseconds, ties broken
/// by node number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Stamp {
    ms: u64,
    node: u64,
}

/// One peer id's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) conn: ConnId,
    pub(crate) stamp: Stamp,
}

impl Entry {
    pub(super) fn new(conn: ConnId) -> Entry {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Entry {
            conn,
            stamp: Stamp {
                ms,
                node: conn.node,
            },
        }
    }
}

impl Namespace {
    /// Tells the other nodes that `id` now names `entry`, or that `was` let go of it.
    pub(super) fn announce(&self, id: &str, entry: Option<Entry>, was: Option<ConnId>) {
        if let Some(bus) = self.router.bus() {
            bus.tell_all(&Control::Peer {
                ns: self.name.to_string(),
                id: id.to_string(),
                entry,
                was,
            });
        }
    }

    /// Applies another node's change. A newer entry for an id held by a connection of
    /// this node closes that connection.
    pub(crate) fn apply(&self, id: String, entry: Option<Entry>, was: Option<ConnId>) {
        let displaced = {
            let mut peers = self.write();
            match (entry, was) {
                (Some(entry), _) => match peers.get(&id) {
                    Some(held) if held.stamp >= entry.stamp => None,
                    _ => peers.insert(id, entry).map(|older| older.conn),
                },
                (None, Some(was)) => {
                    if peers.get(&id).is_some_and(|e| e.conn == was) {
                        peers.remove(&id);
                    }
                    None
                }
                (None, None) => None,
            }
        };
        if let Some(older) = displaced.filter(|c| c.node == self.router.node()) {
            let (code, reason) = self.displaced;
            self.router.close(older, code, reason);
        }
    }

    /// Forgets every id held by a connection of `node`.
    pub(crate) fn forget_node(&self, node: u64) {
        self.write().retain(|_, e| e.conn.node != node);
    }

    /// Every id held by a connection of this node.
    pub(crate) fn own_entries(&self) -> Vec<(String, Entry)> {
        let node = self.router.node();
        self.read()
            .iter()
            .filter(|(_, e)| e.conn.node == node)
            .map(|(id, e)| (id.clone(), *e))
            .collect()
    }

    /// What `node` says it holds, in place of what this node thought it held.
    pub(crate) fn resync_node(&self, node: u64, entries: Vec<(String, Entry)>) {
        self.forget_node(node);
        for (id, entry) in entries.into_iter().filter(|(_, e)| e.conn.node == node) {
            self.apply(id, Some(entry), None);
        }
    }

    /// The namespace's name on the bus.
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conn::Router;
    use std::sync::Arc;

    fn conn(node: u64, local: u64) -> ConnId {
        ConnId { node, local }
    }

    fn stamped(conn: ConnId, ms: u64) -> Entry {
        Entry {
            conn,
            stamp: Stamp {
                ms,
                node: conn.node,
            },
        }
    }

    #[test]
    fn the_newer_entry_wins_in_whatever_order_changes_arrive() {
        let (older, newer) = (stamped(conn(1, 1), 10), stamped(conn(2, 1), 20));
        for order in [[older, newer], [newer, older]] {
            let ns = Namespace::new(Arc::new(Router::new(3)));
            for entry in order {
                ns.apply("root".into(), Some(entry), None);
            }
            assert_eq!(ns.lookup("root"), Some(newer.conn));
        }
    }

    #[test]
    fn a_removal_names_the_connection_it_removes() {
        let ns = Namespace::new(Arc::new(Router::new(3)));
        ns.apply("a".into(), Some(stamped(conn(1, 1), 10)), None);
        ns.apply("a".into(), Some(stamped(conn(2, 1), 20)), None);
        ns.apply("a".into(), None, Some(conn(1, 1)));
        assert_eq!(ns.lookup("a"), Some(conn(2, 1)));
        ns.apply("a".into(), None, Some(conn(2, 1)));
        assert_eq!(ns.lookup("a"), None);
    }

    #[test]
    fn a_dead_node_takes_its_ids_with_it_and_a_resync_replaces_them() {
        let ns = Namespace::new(Arc::new(Router::new(3)));
        ns.apply("a".into(), Some(stamped(conn(1, 1), 10)), None);
        ns.apply("b".into(), Some(stamped(conn(2, 1), 10)), None);
        ns.forget_node(1);
        assert_eq!(ns.list(""), vec!["b".to_string()]);
        ns.resync_node(2, vec![("c".into(), stamped(conn(2, 2), 11))]);
        assert_eq!(ns.list(""), vec!["c".to_string()]);
    }
}
