//! The native wire protocol (docs/protocol.md): decoding inbound frames into typed
//! requests, the session that hands each one to the core ([`session`]), and the codec
//! of the core's events ([`outbound`]).

pub mod envelope;
pub mod outbound;
pub mod request;
pub(crate) mod session;

pub use envelope::{decode, Envelope, Rejected, RequestId};
pub use request::{Moderation, Request, Signal, SignalKind};
