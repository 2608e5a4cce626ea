//! Command-line tools beside the server itself.

pub mod admin;
