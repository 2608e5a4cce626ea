//! Engine.IO protocol 3 packets and polling payloads, as engine.io-parser 2.x (what
//! socket.io-client 1.x and 2.x bundle) writes and reads them.
//!
//! A packet is one type digit and its data: `0` open, `1` close, `2` ping, `3` pong,
//! `4` message, `5` upgrade, `6` noop. A binary message is byte 4 and its bytes, or, in
//! base64 mode, `b4` and base64 text. A text polling payload is `<length>:<packet>`
//! repeated, where `length` counts UTF-16 code units (JavaScript's `String.length`), not
//! bytes; a binary payload is, per packet, byte 0 (text) or 1 (binary), the length's
//! decimal digits as bytes 0-9, byte 255, then the packet.

use bytestring::ByteString;

/// Separates Engine.IO packets inside one outbox text: a codec that answers one event
/// with several packets joins them with it. JSON text never holds a raw U+001E, and
/// Engine.IO 4 chose the same separator for its payloads.
pub(crate) const ENGINE_SEPARATOR: char = '\u{1e}';

/// One Engine.IO packet from a client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet {
    /// `1`: the client is going away.
    Close,
    /// `2`: a heartbeat, with its data (`probe` during an upgrade).
    Ping(ByteString),
    /// `3`: answers a ping (clients send it only as `3probe`, which servers ignore).
    Pong,
    /// `4`: a text message: the data is a Socket.IO packet.
    Message(ByteString),
    /// A binary message (its bytes are not kept: no event of ours carries binary).
    Binary,
    /// `5`: the client switched to the transport it probed.
    Upgrade,
    /// `6`: nothing.
    Noop,
}

/// A payload or packet that engine.io-parser would not have written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParseError;

impl Packet {
    /// Reads one text packet (a WebSocket text frame, or one entry of a text payload).
    pub(crate) fn parse(text: ByteString) -> Result<Packet, ParseError> {
        let kind = *text.as_bytes().first().ok_or(ParseError)?;
        let data = || text.slice_ref(&text[1..]);
        Ok(match kind {
            b'1' => Packet::Close,
            b'2' => Packet::Ping(data()),
            b'3' => Packet::Pong,
            b'4' => Packet::Message(data()),
            b'5' => Packet::Upgrade,
            b'6' => Packet::Noop,
            // Base64 binary (`b4...`), sent by clients that cannot send bytes.
            b'b' if text.as_bytes().get(1) == Some(&b'4') => Packet::Binary,
            _ => return Err(ParseError),
        })
    }

    /// Reads one binary packet (a WebSocket binary frame, or a binary payload entry
    /// whose marker says binary): only messages exist in binary.
    fn parse_binary(bytes: &[u8]) -> Result<Packet, ParseError> {
        match bytes.first() {
            Some(4) => Ok(Packet::Binary),
            _ => Err(ParseError),
        }
    }
}

/// Reads a text payload: `<length>:<packet>` repeated, lengths in UTF-16 code units.
pub(crate) fn decode_text(body: &str) -> Result<Vec<Packet>, ParseError> {
    let mut packets = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let colon = rest.find(':').ok_or(ParseError)?;
        let units: usize = rest[..colon].parse().map_err(|_| ParseError)?;
        rest = &rest[colon + 1..];
        let end = utf16_prefix(rest, units).ok_or(ParseError)?;
        if units == 0 {
            return Err(ParseError);
        }
        packets.push(Packet::parse(rest[..end].into())?);
        rest = &rest[end..];
    }
    Ok(packets)
}

/// Reads a binary payload (the body of a POST with `Content-Type:
/// application/octet-stream`).
pub(crate) fn decode_binary(mut body: &[u8]) -> Result<Vec<Packet>, ParseError> {
    let mut packets = Vec::new();
    while let Some((&marker, rest)) = body.split_first() {
        let digits = rest.iter().position(|&b| b == 255).ok_or(ParseError)?;
        // No engine.io-parser writes a length of more than 310 digits; neither is a
        // length this long ever in range of a bounded body.
        if digits == 0 || digits > 20 || rest[..digits].iter().any(|&d| d > 9) {
            return Err(ParseError);
        }
        let len = rest[..digits].iter().fold(0usize, |n, &d| {
            n.saturating_mul(10).saturating_add(d.into())
        });
        let data = &rest[digits + 1..];
        match marker {
            0 => {
                let end = utf16_prefix_bytes(data, len).ok_or(ParseError)?;
                let text = std::str::from_utf8(&data[..end]).map_err(|_| ParseError)?;
                packets.push(Packet::parse(text.into())?);
                body = &data[end..];
            }
            1 => {
                let packet = data.get(..len).ok_or(ParseError)?;
                packets.push(Packet::parse_binary(packet)?);
                body = &data[len..];
            }
            _ => return Err(ParseError),
        }
    }
    Ok(packets)
}

/// Appends `packet` to a text payload.
pub(crate) fn encode_into(payload: &mut String, packet: &str) {
    use std::fmt::Write;
    let units: usize = packet.chars().map(char::len_utf16).sum();
    let _ = write!(payload, "{units}:{packet}");
}

/// The byte length of the first `units` UTF-16 code units of `text`, if it has that
/// many and they end on a character boundary.
fn utf16_prefix(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (at, c) in text.char_indices() {
        if counted == units {
            return Some(at);
        }
        counted += c.len_utf16();
    }
    (counted == units).then_some(text.len())
}

/// [`utf16_prefix`] over bytes that may continue past the packet with anything.
fn utf16_prefix_bytes(bytes: &[u8], units: usize) -> Option<usize> {
    // Each code unit takes at most 3 bytes of UTF-8 (a 4-byte character is 2 units).
    let window = &bytes[..bytes.len().min(units.saturating_mul(3))];
    let text = match std::str::from_utf8(window) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&window[..e.valid_up_to()]).ok()?,
    };
    utf16_prefix(text, units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payload_lengths_count_utf16_units() {
        let mut payload = String::new();
        encode_into(&mut payload, "42[\"x\",\"é😀\"]");
        // 😀 is two UTF-16 units and four UTF-8 bytes; é one unit and two bytes.
        assert_eq!(payload, "13:42[\"x\",\"é😀\"]");
        encode_into(&mut payload, "3");
        let packets = decode_text(&payload).unwrap();
        assert_eq!(
            packets,
            vec![Packet::Message("2[\"x\",\"é😀\"]".into()), Packet::Pong]
        );
    }

    #[test]
    fn bad_text_payloads_are_refused() {
        for bad in ["5:2", "x:2", "0:", "2:2😀", "1:9", "1:", ":2", "2:2"] {
            assert_eq!(decode_text(bad), Err(ParseError), "{bad}");
        }
        assert_eq!(decode_text("").unwrap(), vec![]);
    }

    #[test]
    fn binary_payloads_carry_text_and_bytes() {
        let mut body = vec![0, 1, 255, b'2', 1, 3, 255, 4, 0xde, 0xad];
        body.extend([0, 4, 255]);
        body.extend("4a😀".as_bytes());
        let packets = decode_binary(&body).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Ping("".into()),
                Packet::Binary,
                Packet::Message("a😀".into())
            ]
        );
        for bad in [
            &[0, 1, 2][..],
            &[2, 1, 255, b'2'],
            &[0, 255, b'2'],
            &[1, 5, 255, 4],
        ] {
            assert_eq!(decode_binary(bad), Err(ParseError), "{bad:?}");
        }
    }
}
