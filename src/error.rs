//! The one place where a failure becomes a wire error code.
//!
//! Every request that fails ends as an [`Error`]; its [`Error::code`] is the stable
//! string clients switch on (PROTOCOL.md, "Errors"), and its `Display` is the human
//! message. Domain errors (tokens, PINs, limits) convert into it with `From`.
//!
//! Refusals carry their reason as an enum variant ([`Malformed`], [`TokenRefusal`],
//! [`Refusal`], [`Limit`], [`Oversize`], [`Outage`]), so that an adapter can tell them apart without
//! matching prose; each reason's `Display` is the message clients have always read.

use serde::{Deserialize, Serialize};
use thiserror::Error;

// Serde: a request forwarded to the node that owns its workspace is answered over the
// bus, errors included (`core/workspaces/forward.rs`).
#[derive(Debug, Error, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Error {
    #[error("{0}")]
    BadRequest(Malformed),
    #[error("unknown event {:?}", quote(.0))]
    UnknownEvent(String),
    #[error("this connection is not attending a workspace")]
    NotAttending,
    #[error("this connection already attends a workspace; leave first")]
    AlreadyAttending,
    #[error("{0}")]
    InvalidToken(TokenRefusal),
    #[error("the token has expired")]
    ExpiredToken,
    #[error("{0}")]
    Forbidden(Refusal),
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
    RateLimited(Limit),
    #[error("{0}")]
    TooLarge(Oversize),
    #[error("{0}")]
    Unavailable(Outage),
    /// A bug. The correlation id is logged with the cause and named to the client.
    #[error("internal error, reference {0}")]
    Internal(String),
}

/// What was wrong with a request (`bad_request`).
// Serde: a request forwarded to the node that owns its workspace is answered over the
// bus, errors included (`core/workspaces/forward.rs`).
#[derive(Debug, Error, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Malformed {
    /// A protocol decoder's own words (a frame that is not JSON, a field missing or of
    /// the wrong type), every quote of the client's input cut short: see
    /// [`Error::bad_request`].
    #[error("{0}")]
    Decode(String),
    #[error("binary frames are not supported")]
    Binary,
    #[error("to is the sender itself")]
    SignalToSelf,
    #[error("names may not contain control characters")]
    NameControl,
    #[error("a PIN is at least {0} characters")]
    PinTooShort(usize),
    #[error("a PIN may not contain control characters")]
    PinControl,
    #[error("call must not be empty")]
    EmptyCall,
    /// A relayed payload nested deeper than the limit.
    #[error("{field} nests deeper than {max} levels")]
    TooDeep {
        // Found while decoding, before anything is forwarded: never crosses the bus.
        #[serde(skip)]
        field: &'static str,
        max: usize,
    },
}

/// Why a token is refused (`invalid_token`).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenRefusal {
    #[error("not an invite token")]
    NotInvite,
    #[error("not a session token")]
    NotSession,
    #[error("token algorithm not accepted")]
    Algorithm,
    #[error("token signature does not verify")]
    Signature,
    #[error("malformed token")]
    Malformed,
    /// The invite's version is older than the workspace's (it was rotated away).
    #[error("this invite has been replaced by a newer one")]
    InviteReplaced,
    /// A session token of a member that left, was kicked, or timed out.
    #[error("this membership no longer exists")]
    MembershipGone,
    /// `GET /iceservers` without a bearer token.
    #[error("send Authorization: Bearer <session token>")]
    NoBearer,
    /// An admin API request without a bearer token.
    #[error("send Authorization: Bearer <ADMIN_TOKEN>")]
    NoAdminBearer,
    /// An admin API request with a token that is not `ADMIN_TOKEN`.
    #[error("not the admin token")]
    NotAdmin,
}

/// Why the caller may not do what it asked (`forbidden`).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    #[error("the owner cannot leave; destroy the workspace instead")]
    OwnerCannotLeave,
    #[error("only the owner can destroy the workspace")]
    OwnerOnlyDestroy,
    #[error("only the owner can kick")]
    OwnerOnlyKick,
    #[error("the owner cannot kick themself")]
    KickSelf,
    #[error("only the owner can rotate the invite")]
    OwnerOnlyRotate,
    #[error("only the owner can set the PIN")]
    OwnerOnlySetPin,
    /// Kicked while its `attend` was being committed.
    #[error("removed by the owner while joining")]
    RemovedWhileJoining,
    #[error("this address is banned from this workspace")]
    Banned,
    /// A webRTCWorkspaces event whose sender id, or workspace id, is not its token's
    /// (COMPAT.md 1a).
    #[error("the sender in this event is not the holder of its access token")]
    NotYourId,
}

/// Which limit a request ran into (`rate_limited`).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Limit {
    /// `limits.creates_per_minute` of one address.
    #[error("too many workspaces created; try again later")]
    Creates,
    /// The connection's request rate.
    #[error("too many requests; slow down")]
    Requests,
    /// `limits.pin_checks_per_ip` in flight.
    #[error("too many PIN checks at once; try again")]
    PinChecks,
    /// `limits.pin_failures` of one address at one workspace.
    #[error("too many wrong PINs; try again later")]
    WrongPins,
    /// `limits.pin_workspace_failures`, and another attempt already waiting.
    #[error("this workspace is under PIN guessing; try again later")]
    PinGuessing,
    /// A relay target whose queue holds half its limit.
    #[error("the recipient is not keeping up; send again shortly")]
    SlowRecipient,
    /// `limits.admin_requests_per_minute` of one address.
    #[error("too many admin requests; try again later")]
    Admin,
}

impl Limit {
    /// Every limit, for metrics that list each from the start.
    pub const ALL: [Limit; 7] = [
        Limit::Creates,
        Limit::Requests,
        Limit::PinChecks,
        Limit::WrongPins,
        Limit::PinGuessing,
        Limit::SlowRecipient,
        Limit::Admin,
    ];

    /// The setting this limit comes from (`switchboard_rate_limited_total{limit}`).
    pub fn config_key(self) -> &'static str {
        match self {
            Limit::Creates => "creates_per_minute",
            Limit::Requests => "requests_per_second",
            Limit::PinChecks => "pin_checks_per_ip",
            Limit::WrongPins => "pin_failures",
            Limit::PinGuessing => "pin_workspace_failures",
            Limit::SlowRecipient => "max_outbound_bytes",
            Limit::Admin => "admin_requests_per_minute",
        }
    }
}

/// What was over its size limit (`too_large`), and the limit.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Oversize {
    #[error("messages are at most {0} bytes")]
    Message(usize),
    #[error("id is at most {0} characters")]
    RequestId(usize),
    #[error("names are at most {0} characters")]
    Name(usize),
    #[error("a PIN is at most {0} characters")]
    Pin(usize),
    #[error("call is at most {0} characters")]
    Call(usize),
}

/// What failed that the request needed (`unavailable`).
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outage {
    #[error("storage is unavailable; try again")]
    Storage,
    /// The caller's own connection closed while its request waited.
    #[error("the connection is closing")]
    Closing,
    #[error("the TURN provider is unavailable")]
    TurnProvider,
    #[error("no ICE servers configured")]
    NoIceServers,
    /// A cluster node cannot reach Redis, or the node that owns the workspace did not
    /// answer in time.
    #[error("the cluster is unavailable; try again")]
    Cluster,
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

    /// A `bad_request` in a decoder's words ([`Malformed::Decode`]), quoting at most
    /// [`QUOTE_CHARS`] characters of any quoted client input in it (serde's messages
    /// quote the offending value whole).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest(Malformed::Decode(shorten_quotes(&message.into())))
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
    fn reasons_read_as_the_messages_clients_always_had() {
        let cases = [
            (
                Error::TooLarge(Oversize::Message(65536)),
                "messages are at most 65536 bytes",
            ),
            (
                Error::TooLarge(Oversize::Name(64)),
                "names are at most 64 characters",
            ),
            (
                Error::RateLimited(Limit::Requests),
                "too many requests; slow down",
            ),
            (
                Error::Forbidden(Refusal::Banned),
                "this address is banned from this workspace",
            ),
            (
                Error::InvalidToken(TokenRefusal::Malformed),
                "malformed token",
            ),
            (
                Error::Unavailable(Outage::Storage),
                "storage is unavailable; try again",
            ),
            (
                Error::BadRequest(Malformed::PinTooShort(4)),
                "a PIN is at least 4 characters",
            ),
            (
                Error::BadRequest(Malformed::TooDeep {
                    field: "sdp",
                    max: 32,
                }),
                "sdp nests deeper than 32 levels",
            ),
        ];
        for (error, message) in cases {
            assert_eq!(error.to_string(), message);
        }
    }

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
