//! Switchboard: a self-hosted WebRTC signaling server.
//!
//! Clients create *workspaces* (rooms), share invites, and relay the WebRTC handshake
//! through the server, which also keeps presence and hands out ICE servers. The native
//! protocol is described in `docs/protocol.md`; the architecture in `docs/design.md`.

pub(crate) mod adapters;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod core;
pub mod error;
pub mod http;
pub mod ice;
pub mod import;
pub(crate) mod ops;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod transport;

/// Entry points for the fuzz targets in `fuzz/`; not an API.
#[doc(hidden)]
pub use adapters::fuzzing;
/// The native protocol's decoder and codec, at the path the fuzz targets use.
pub use adapters::native as protocol;
pub use config::Config;
pub use server::{run, RunError};
/// Hand-built WebSocket frames for the tests and the bench; not an API.
#[doc(hidden)]
pub use transport::client_frames;
