//! The core, which speaks no wire format: connections and their delivery, identifiers,
//! the typed events it emits ([`event`]), the rules of fields every protocol shares
//! ([`validate`]), and peer-id routing for the protocols without workspaces. Workspaces live in [`crate::hub`]. Transports move frames into adapters;
//! adapters call in here.

pub mod conn;
pub mod counters;
pub mod event;
pub(crate) mod ids;
pub(crate) mod switch;
pub(crate) mod validate;
