//! Connections as the core sees them: an address ([`ConnId`]), an outbound queue
//! ([`Outbox`]), and the [`Router`] that delivers to either.

#![warn(missing_docs)]

pub mod outbox;
mod router;

pub use outbox::{Full, Outbox, OutboxReceiver, Outgoing};
pub use router::{Registered, Router, Undelivered};

use std::fmt;

/// Where a connection lives: the node that holds its socket, and a number unique on that
/// node for the life of the process. Ids are never reused, so a stale `ConnId` (a member
/// that reconnected) names nobody rather than somebody else.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct ConnId {
    /// The node's number; 0 on a single node.
    pub node: u64,
    /// Unique on `node` ([`Outbox::id`]).
    pub local: u64,
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.local)
    }
}
