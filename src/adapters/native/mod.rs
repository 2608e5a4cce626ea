//! The native wire protocol (docs/protocol.md): decoding inbound frames into typed
//! requests, and encoding replies, pushes and alerts.

pub mod envelope;
pub mod outbound;
pub mod request;

pub use envelope::{decode, Envelope, Rejected, RequestId};
pub use request::{Moderation, Request, Signal, SignalKind};
