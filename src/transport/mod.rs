//! Moving frames between sockets and sessions, with every byte budget, rate, close and
//! teardown rule enforced here, once (PROTOCOL.md 1.1, "Transport and frames").

mod body;
pub mod client_frames;
pub(crate) mod engineio;
pub mod frames;
pub mod socket;
pub mod ws;
