//! Who may do what: tokens, PIN hashes, and the limits on what a stranger can send.

pub mod limits;
pub mod pin;
pub mod pin_limits;
pub mod tokens;

pub use pin::PinHasher;
pub use tokens::{Role, SessionClaims, Tokens};
