//! Moving frames between sockets and sessions, with every byte budget, rate, close and
//! teardown rule enforced here, once (PROTOCOL.md 1.1, "Transport and frames").

pub mod client_frames;
pub(crate) mod engineio;
pub mod frames;
pub(crate) mod listen;
pub(crate) mod runtime;
pub mod socket;
pub(crate) mod upgrade;
pub(crate) mod writer;
pub mod ws;
