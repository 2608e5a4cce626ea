//! The core, which speaks no wire format: connections and their delivery, identifiers,
//! the typed events it emits ([`event`]), the rules of fields every protocol shares
//! ([`validate`]), peer-id routing for the protocols without workspaces, and the
//! [`workspaces`]. Transports move frames into adapters; adapters call in here.

pub mod conn;
pub mod counters;
pub mod event;
pub(crate) mod ids;
pub(crate) mod switch;
pub(crate) mod validate;
pub mod workspaces;
