//! The control messages of the bus: everything but frames for connections.

use crate::adapters::socketio::entrance::RoomChange;
use crate::core::conn::ConnId;
use crate::core::switch::Entry;
use crate::core::workspaces::{Forwarded, Outcome, Roster};
use crate::transport::engineio::elsewhere::{EngineReply, EngineRequest};
use serde::{Deserialize, Serialize};

/// What one node tells another (or all) about the cluster's state.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
pub(crate) enum Control {
    /// Node `node` stopped heart-beating, or a new run of its `node_id` started: its
    /// connections are gone.
    NodeDead { node: u64 },
    /// In peer-id namespace `ns`, `id` now names `entry`'s connection; or, without an
    /// entry, connection `was` let go of it.
    Peer {
        ns: String,
        id: String,
        entry: Option<Entry>,
        was: Option<ConnId>,
    },
    /// A request for the owner of a workspace.
    Command(Box<Forwarded>),
    /// Request `id` of the node it is sent to arrived (a forwarded command or an
    /// Engine.IO request); its answer follows.
    Received { id: u64 },
    /// The owner's answer to request `id` of the node it is sent to.
    Answer {
        id: u64,
        outcome: Result<Outcome, crate::error::Error>,
    },
    /// A workspace's roster, from its owner to the nodes with its members.
    Roster(Box<Roster>),
    /// A request for an Engine.IO session of the node it is sent to.
    EngineRequest(Box<EngineRequest>),
    /// That node's answer to request `id`.
    EngineReply { id: u64, reply: EngineReply },
    /// A change to the entrance rooms.
    Room(RoomChange),
    /// Node `node` may have missed changes: everyone sends it what they hold.
    Resync { node: u64 },
    /// Every peer id that connections of node `node` hold in namespace `ns`.
    Peers {
        node: u64,
        ns: String,
        entries: Vec<(String, Entry)>,
    },
}
