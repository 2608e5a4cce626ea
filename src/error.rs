//! The one place where a failure becomes a wire error code.
//!
//! Every request that fails ends as an [`Error`]; its [`Error::code`] is the stable
//! string clients switch on (PROTOCOL.md, "Errors"), and its `Display` is the human
//! message. Domain errors (tokens, PINs, limits) convert into it with `From`.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("unknown event {:?}", quote(.0))]
    UnknownEvent(String),
    #[error("this connection is not attending a workspace")]
    NotAttending,
    #[error("this connection already attends a workspace; leave first")]
    AlreadyAttending,
    #[error("{0}")]
    InvalidToken(&'static str),
    #[error("the token has expired")]
    ExpiredToken,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("the workspace does not exist")]
    WorkspaceNotFound,
    #[error("no attendee {:?} in this workspace", quote(.0))]
    UnknownAttendee(String),
    #[error("attendee {:?} is offline", quote(.0))]
    PeerOffline(String),
    #[error("wrong or missing PIN")]
    WrongPin,
    #[error("the workspace is full ({0} attendees)")]
    WorkspaceFull(usize),
    #[error("{0}")]
    RateLimited(&'static str),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unavailable(String),
    /// A bug. The correlation id is logged with the cause and named to the client.
    #[error("internal error, reference {0}")]
    Internal(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::UnknownEvent(_) => "unknown_event",
            Error::NotAttending => "not_attending",
            Error::AlreadyAttending => "already_attending",
            Error::InvalidToken(_) => "invalid_token",
            Error::ExpiredToken => "expired_token",
            Error::Forbidden(_) => "forbidden",
            Error::WorkspaceNotFound => "workspace_not_found",
            Error::UnknownAttendee(_) => "unknown_attendee",
            Error::PeerOffline(_) => "peer_offline",
            Error::WrongPin => "wrong_pin",
            Error::WorkspaceFull(_) => "workspace_full",
            Error::RateLimited(_) => "rate_limited",
            Error::TooLarge(_) => "too_large",
            Error::Unavailable(_) => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// The status of the same error over HTTP (`GET /iceservers`).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::UnknownEvent(_) | Error::AlreadyAttending => 400,
            Error::NotAttending | Error::InvalidToken(_) | Error::ExpiredToken => 401,
            Error::Forbidden(_) | Error::WrongPin => 403,
            Error::WorkspaceNotFound | Error::UnknownAttendee(_) => 404,
            Error::PeerOffline(_) | Error::WorkspaceFull(_) => 409,
            Error::TooLarge(_) => 413,
            Error::RateLimited(_) => 429,
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    /// A `bad_request` whose message quotes at most [`QUOTE_CHARS`] characters of any
    /// quoted client input in it (serde's messages quote the offending value whole).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(shorten_quotes(&message.into()))
    }

    /// Logs `cause` under a fresh correlation id and returns the error naming it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let reference = crate::core::ids::correlation_id();
        tracing::error!(reference = %reference, "internal error: {cause}");
        Error::Internal(reference)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The most characters of a client's input an error message repeats (PROTOCOL.md 1.1).
pub const QUOTE_CHARS: usize = 64;

/// `input` as an error message may quote it: its first [`QUOTE_CHARS`] characters.
pub fn quote(input: &str) -> String {
    match input.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_string(),
    }
}

/// Cuts every double-quoted span of `message` (escapes included) to [`QUOTE_CHARS`].
fn shorten_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(256));
    let (mut quoted, mut escaped, mut kept) = (false, false, 0);
    for c in message.chars() {
        if quoted {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                quoted = false;
                out.push(c);
                continue;
            }
            kept += 1;
            if kept == QUOTE_CHARS + 1 {
                out.push('…');
            }
            if kept > QUOTE_CHARS {
                continue;
            }
        } else if c == '"' {
            (quoted, kept) = (true, 0);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_quotes_are_cut_and_short_ones_kept() {
        let long = "x".repeat(60_000);
        let e = Error::bad_request(format!(
            "invalid type: string \"{long}\", expected a boolean"
        ));
        let text = e.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.starts_with(&format!("invalid type: string \"{}…\"", "x".repeat(64))));
        assert!(text.ends_with("\", expected a boolean"));
        let short = r#"unknown field "a\"b", expected "c""#;
        assert_eq!(Error::bad_request(short).to_string(), short);
        let escaped = format!(r#"string "\"{}""#, "y".repeat(100));
        let cut = Error::bad_request(escaped).to_string();
        assert_eq!(cut, format!(r#"string "\"{}…""#, "y".repeat(62)));
        assert_eq!(quote(&"é".repeat(70)), format!("{}…", "é".repeat(64)));
    }
}
