//! Socket.IO protocol revision 4 packets (socket.io-parser 3.x, what socket.io-client
//! 2.x speaks), inside Engine.IO messages: `<type>[<attachments>-][/<nsp>,][<ack
//! id>][<JSON>]`, types `0` connect, `1` disconnect, `2` event, `3` ack, `4` error,
//! `5` binary event, `6` binary ack. Only the default namespace exists here.

use bytestring::ByteString;
use serde::Serialize;
use serde_json::value::RawValue;

/// One packet from a client, as far as the server cares.
#[derive(Debug)]
pub(super) enum Packet {
    /// `0/nsp`: the client asks for a namespace other than the default one.
    ConnectOther(String),
    /// `1`: the client leaves the default namespace.
    Disconnect,
    /// `2`: an event `[name, payload?, …]` for the default namespace; `payload` is the
    /// first argument's raw JSON (`None` when the event has none).
    Event {
        name: String,
        payload: Option<Box<RawValue>>,
    },
    /// A binary event (`5`), whose attachments this server never reads.
    Binary,
    /// Anything the server has no use for: a connect to the default namespace (it is
    /// connected from the start), acks, errors, events of other namespaces.
    Ignored,
}

/// A packet socket.io-parser would not have written.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Malformed;

impl Packet {
    pub(super) fn parse(text: &str) -> Result<Packet, Malformed> {
        let mut rest = text;
        let kind = take_char(&mut rest).ok_or(Malformed)?;
        if matches!(kind, '5' | '6') {
            return Ok(Packet::Binary);
        }
        let nsp = if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            let nsp = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
            nsp
        } else {
            "/"
        };
        let default = nsp == "/";
        match kind {
            '0' if default => Ok(Packet::Ignored),
            '0' => Ok(Packet::ConnectOther(nsp.to_string())),
            '1' if default => Ok(Packet::Disconnect),
            '2' if default => {
                let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
                let mut args: Vec<Box<RawValue>> =
                    serde_json::from_str(json).map_err(|_| Malformed)?;
                if args.is_empty() {
                    return Err(Malformed);
                }
                let name: String = serde_json::from_str(args[0].get()).map_err(|_| Malformed)?;
                let payload = (args.len() > 1).then(|| args.swap_remove(1));
                Ok(Packet::Event { name, payload })
            }
            '1'..='4' => Ok(Packet::Ignored),
            _ => Err(Malformed),
        }
    }
}

fn take_char(rest: &mut &str) -> Option<char> {
    let c = rest.chars().next()?;
    *rest = &rest[c.len_utf8()..];
    Some(c)
}

/// `42["name",payload]`: an event of the default namespace, as one Engine.IO message
/// packet (`4`).
pub(super) fn event(name: &str, payload: impl Serialize) -> ByteString {
    let args = serde_json::to_string(&(name, payload))
        .expect("string keys and raw or plain values always encode");
    let mut text = String::with_capacity(2 + args.len());
    text.push_str("42");
    text.push_str(&args);
    text.into()
}

/// `42["name"]`: an event without arguments.
pub(super) fn bare_event(name: &str) -> ByteString {
    let name = serde_json::to_string(name).expect("a string always encodes");
    format!("42[{name}]").into()
}

/// `40`: the default namespace is connected (sent first, as socket.io 2 does).
pub(super) const CONNECTED: &str = "40";

/// `44/nsp,"Invalid namespace"`: socket.io 2's refusal of an unknown namespace.
pub(super) fn invalid_namespace(nsp: &str) -> ByteString {
    format!("44{nsp},\"Invalid namespace\"").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_of(text: &str) -> (String, Option<String>) {
        match Packet::parse(text).unwrap() {
            Packet::Event { name, payload } => (name, payload.map(|p| p.get().to_string())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_with_and_without_ack_ids() {
        assert_eq!(
            event_of(r#"2["ring",{"a": 1}]"#),
            ("ring".into(), Some(r#"{"a": 1}"#.into()))
        );
        assert_eq!(event_of(r#"217["x"]"#), ("x".into(), None));
        assert_eq!(event_of(r#"2/,3["x",1,2]"#), ("x".into(), Some("1".into())));
    }

    #[test]
    fn namespaces_other_than_the_default_are_told_apart() {
        assert!(matches!(Packet::parse("0/admin"), Ok(Packet::ConnectOther(n)) if n == "/admin"));
        assert!(matches!(
            Packet::parse(r#"2/admin,["x"]"#),
            Ok(Packet::Ignored)
        ));
        assert!(matches!(Packet::parse("0"), Ok(Packet::Ignored)));
        assert!(matches!(Packet::parse("1"), Ok(Packet::Disconnect)));
        assert_eq!(
            &*invalid_namespace("/admin"),
            r#"44/admin,"Invalid namespace""#
        );
    }

    #[test]
    fn malformed_packets_are_refused() {
        for bad in ["", "2", "2[]", "2[1]", "2{}", "2[\"x\"", "9", "2x"] {
            assert!(matches!(Packet::parse(bad), Err(Malformed)), "{bad}");
        }
        let binary = Packet::parse(r#"51-["x",{"_placeholder":true,"num":0}]"#);
        assert!(matches!(binary, Ok(Packet::Binary)));
    }

    #[test]
    fn events_encode_as_engine_messages() {
        let raw = RawValue::from_string(r#"{"k": [1]}"#.into()).unwrap();
        assert_eq!(&*event("ice", &raw), r#"42["ice",{"k": [1]}]"#);
        assert_eq!(&*event("full", serde_json::json!({})), r#"42["full",{}]"#);
        assert_eq!(&*bare_event("connected"), r#"42["connected"]"#);
    }
}
