//! What a node does with the cluster's news: the server's [`Inbound`].

use super::control::Control;
use super::Inbound;
use crate::adapters::socketio::entrance::Rooms;
use crate::core::conn::outbox::{CLOSE_SERVICE_RESTART, RECONNECT};
use crate::http::AppState;
use crate::transport::engineio::elsewhere;
use std::sync::Arc;

impl Inbound for AppState {
    fn control(self: Arc<Self>, control: Control) {
        let me = self.router.node();
        match control {
            Control::Peer { ns, id, entry, was } => {
                let from = entry.map(|e| e.conn.node).or(was.map(|c| c.node));
                // This node's own changes come back on the shared channel: applied already.
                if from == Some(me) {
                    return;
                }
                if let Some(ns) = self.switch.named(&ns) {
                    ns.apply(id, entry, was);
                }
            }
            Control::Room(change) if !Rooms::is_from(&change, me) => {
                self.entrance.apply(change, &self.router);
            }
            Control::Room(_) => {}
            Control::Resync { node } if node != me => self.send_peers(Some(node)),
            Control::Resync { .. } => {}
            Control::Peers { node, ns, entries } => {
                if let Some(ns) = self.switch.named(&ns).filter(|_| node != me) {
                    ns.resync_node(node, entries);
                }
            }
            Control::Roster(roster) => self.hub.apply_roster(*roster),
            Control::Command(forwarded) => self.hub.execute(*forwarded),
            Control::Received { id } => {
                self.hub.received(id);
                self.engine.calls.received(id);
            }
            Control::Answer { id, outcome } => self.hub.answered(id, outcome),
            Control::EngineRequest(request) => elsewhere::serve(self, *request),
            Control::EngineReply { id, reply } => self.engine.calls.answer(id, reply),
            Control::NodeDead { node } => self.node_died(node),
        }
    }

    fn node_died(&self, node: u64) {
        for ns in self.switch.all() {
            ns.forget_node(node);
        }
        self.entrance.forget_node(node);
        self.engine.calls.abandon(node);
        self.hub.node_died(node);
    }

    fn redis_back(&self) {
        let Some(bus) = self.router.bus() else {
            return;
        };
        // What this node changed while Redis was away reached nobody, and it may have
        // missed what the others changed: both sides resend.
        self.send_peers(None);
        bus.tell_all(&Control::Resync { node: bus.node() });
        self.hub.resend_rosters();
    }

    fn buried(&self) {
        self.hub.let_go();
        self.router.close_all(CLOSE_SERVICE_RESTART, RECONNECT);
    }

    fn members(&self) -> u64 {
        self.router.open_count() as u64
    }
}

impl AppState {
    /// Tells node `to` (or every node) which peer ids this node's connections hold.
    fn send_peers(&self, to: Option<u64>) {
        let Some(bus) = self.router.bus() else {
            return;
        };
        let rooms = Control::Room(self.entrance.own(bus.node()));
        match to {
            Some(node) => bus.tell(node, &rooms),
            None => bus.tell_all(&rooms),
        }
        for ns in self.switch.all() {
            let peers = Control::Peers {
                node: bus.node(),
                ns: ns.name().to_string(),
                entries: ns.own_entries(),
            };
            match to {
                Some(node) => bus.tell(node, &peers),
                None => bus.tell_all(&peers),
            }
        }
    }
}
