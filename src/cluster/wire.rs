//! What one node publishes to another, as bytes on a Redis channel.
//!
//! Frames for connections travel as they will be written to the socket, already encoded
//! in the target's protocol, behind a small binary header: a relay costs its own bytes
//! and 14 more, never a second JSON encoding of an SDP. Everything else (who registered
//! which peer id, a node's death, a workspace's roster, a forwarded request) is a
//! [`Control`], as JSON.
//!
//! ```text
//! delivery: 'd' mode(1: r relay, o offer, s send) count(u32 LE) local(u64 LE)×count text
//! close:    'x' code(u16 LE) count(u32 LE) local(u64 LE)×count reason
//! control:  'j' JSON
//! ```

use super::control::Control;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

/// How a frame is queued at its target (see [`crate::core::conn::Outbox`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Relay,
    Offer,
    Send,
}

/// One bus message, decoded.
#[derive(Debug)]
pub(crate) enum Message {
    /// `text` for each of the receiving node's connections `to`.
    Deliver {
        mode: Mode,
        to: Vec<u64>,
        text: ByteString,
    },
    /// A close frame for each of `to`.
    Close {
        code: u16,
        to: Vec<u64>,
        reason: String,
    },
    Control(Control),
}

/// Why a bus message could not be read: only a node of another version, or something
/// else publishing on our channels, sends one.
#[derive(Debug, thiserror::Error)]
#[error("unreadable bus message: {0}")]
pub(crate) struct Unreadable(String);

pub(crate) fn deliver(mode: Mode, to: &[u64], text: &ByteString) -> Bytes {
    let mut out = BytesMut::with_capacity(6 + 8 * to.len() + text.len());
    out.put_u8(b'd');
    out.put_u8(match mode {
        Mode::Relay => b'r',
        Mode::Offer => b'o',
        Mode::Send => b's',
    });
    locals(&mut out, to);
    out.put_slice(text.as_bytes());
    out.freeze()
}

pub(crate) fn close(code: u16, to: &[u64], reason: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(7 + 8 * to.len() + reason.len());
    out.put_u8(b'x');
    out.put_u16_le(code);
    locals(&mut out, to);
    out.put_slice(reason.as_bytes());
    out.freeze()
}

pub(crate) fn control(control: &Control) -> Bytes {
    let mut out = vec![b'j'];
    // A Control holds strings, numbers and raw JSON only: serialising cannot fail.
    serde_json::to_writer(&mut out, control).unwrap_or_default();
    Bytes::from(out)
}

fn locals(out: &mut BytesMut, to: &[u64]) {
    out.put_u32_le(to.len() as u32);
    for local in to {
        out.put_u64_le(*local);
    }
}

pub(crate) fn decode(message: Bytes) -> Result<Message, Unreadable> {
    let mut buf = message;
    let bad = |what: &str| Unreadable(what.to_string());
    if !buf.has_remaining() {
        return Err(bad("empty"));
    }
    match buf.get_u8() {
        b'd' => {
            if !buf.has_remaining() {
                return Err(bad("delivery without a mode"));
            }
            let mode = match buf.get_u8() {
                b'r' => Mode::Relay,
                b'o' => Mode::Offer,
                b's' => Mode::Send,
                other => return Err(Unreadable(format!("delivery mode {other}"))),
            };
            let to = read_locals(&mut buf)?;
            let text = ByteString::try_from(buf).map_err(|_| bad("a frame that is not UTF-8"))?;
            Ok(Message::Deliver { mode, to, text })
        }
        b'x' => {
            if buf.remaining() < 2 {
                return Err(bad("close without a code"));
            }
            let code = buf.get_u16_le();
            let to = read_locals(&mut buf)?;
            let reason = String::from_utf8(buf.to_vec())
                .map_err(|_| bad("a close reason that is not UTF-8"))?;
            Ok(Message::Close { code, to, reason })
        }
        b'j' => serde_json::from_slice(&buf)
            .map(Message::Control)
            .map_err(|e| Unreadable(format!("control: {e}"))),
        other => Err(Unreadable(format!("kind {other}"))),
    }
}

fn read_locals(buf: &mut Bytes) -> Result<Vec<u64>, Unreadable> {
    if buf.remaining() < 4 {
        return Err(Unreadable("no count".into()));
    }
    let count = buf.get_u32_le() as usize;
    if buf.remaining() < count.saturating_mul(8) {
        return Err(Unreadable("fewer connections than counted".into()));
    }
    Ok((0..count).map(|_| buf.get_u64_le()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_and_closes_come_back_as_sent() {
        let text = ByteString::from_static(r#"{"event":"icecandidate","data":{"x":"é"}}"#);
        match decode(deliver(Mode::Relay, &[7, u64::MAX], &text)).unwrap() {
            Message::Deliver {
                mode,
                to,
                text: got,
            } => {
                assert_eq!((mode, to, got), (Mode::Relay, vec![7, u64::MAX], text));
            }
            other => panic!("{other:?}"),
        }
        match decode(close(4003, &[1], "kicked by the owner")).unwrap() {
            Message::Close { code, to, reason } => {
                assert_eq!(
                    (code, to, reason.as_str()),
                    (4003, vec![1], "kicked by the owner")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_or_foreign_messages_are_errors_not_panics() {
        let whole = deliver(Mode::Send, &[1, 2, 3], &ByteString::from_static("hi"));
        for cut in 0..whole.len() - 2 {
            let _ = decode(whole.slice(..cut));
        }
        assert!(decode(whole.slice(..10)).is_err());
        assert!(decode(Bytes::from_static(b"zzz")).is_err());
        assert!(decode(Bytes::from_static(b"d\x00")).is_err());
        assert!(decode(Bytes::from_static(b"dr\xff\xff\xff\xff")).is_err());
        assert!(decode(Bytes::from_static(b"j{nope")).is_err());
    }
}
