//! Drives each compatible protocol's frame handler with one text, as the transport
//! would, for the fuzz target `compat_frames` (fuzz/): no sockets, real handlers.

use crate::core::conn::{Outbox, OutboxReceiver, Router};
use crate::core::counters::Counters;
use crate::core::switch::Switch;
use crate::transport::ws::{Accepted, FrameHandler};
use bytestring::ByteString;
use futures_util::FutureExt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

/// Feeds `text` to a signal-fire peer, a Peero peer (registered, with a registered
/// partner) and a webrtc-bootstrap `/join` socket, on and over the rate. Panics only if
/// a handler does.
pub fn compat_frames(text: &str) {
    let router = Arc::new(Router::new(0));
    let switch = Switch::new(&router);
    let counters = Arc::new(Counters::default());
    let text = ByteString::from(text);
    let mut keep = Vec::new();
    let mut accept = || {
        let (out, rx): (Outbox, OutboxReceiver) = Outbox::new(1 << 20, Duration::from_secs(10));
        let registered = router.register(&out);
        let accepted = Accepted {
            id: registered.id(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            out,
        };
        keep.push((registered, rx));
        accepted
    };
    let signal_fire = super::signal_fire::Peer::open(
        switch.signal_fire.clone(),
        counters.clone(),
        &accept(),
        true,
    );
    feed(signal_fire, &text);
    let mut partner = super::peero::Peer::open(switch.peero.clone(), counters.clone(), &accept());
    feed_one(&mut partner, "{\"type\":\"register\"}");
    let peero = super::peero::Peer::open(switch.peero.clone(), counters.clone(), &accept());
    feed(peero, &text);
    let join = super::bootstrap::Join::open(
        &switch,
        counters,
        &accept(),
        "0123456789abcdef0123456789abcdef".into(),
    );
    feed(join, &text);
}

/// Reads `body` as an Engine.IO polling payload, text and binary, and hands each
/// Socket.IO event in it to a foglet entrance socket (with a partner in its room), on
/// and over the rate. Panics only if a decoder or the handler does.
pub fn socketio_payloads(body: &[u8]) {
    let router = Arc::new(Router::new(0));
    let counters = Arc::new(Counters::default());
    let rooms = Arc::new(super::socketio::entrance::Rooms::new(4));
    let mut keep = Vec::new();
    let mut entrant = || {
        let (out, rx): (Outbox, OutboxReceiver) = Outbox::new(1 << 20, Duration::from_secs(10));
        let registered = router.register(&out);
        let entrant = super::socketio::entrance::Entrant::new(
            rooms.clone(),
            router.clone(),
            counters.clone(),
            registered.id(),
        );
        keep.push((registered, rx));
        entrant
    };
    let mut partner = entrant();
    partner.on_event("joinRoom", Some(&raw(r#"{"id":"p","room":"r"}"#)), false);
    let mut socket = entrant();
    for text in crate::transport::engineio::messages(body) {
        for limited in [false, true] {
            super::socketio::to_entrant(&mut socket, &text, limited);
        }
    }
    socket.on_end();
    partner.on_end();
}

fn raw(text: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text.into()).expect("valid JSON")
}

fn feed<H: FrameHandler>(mut handler: H, text: &ByteString) {
    for limited in [false, true] {
        handler
            .on_text(text.clone(), limited)
            .now_or_never()
            .expect("compat handlers never wait");
    }
    handler.on_end();
}

fn feed_one<H: FrameHandler>(handler: &mut H, text: &str) {
    handler
        .on_text(text.into(), false)
        .now_or_never()
        .expect("compat handlers never wait");
}

#[cfg(test)]
mod tests {
    #[test]
    fn odd_frames_pass_through_every_handler() {
        for text in [
            "",
            "null",
            "{\"receiverId\":\"__proto__\",\"peerId\":{}}",
            "{\"type\":\"offer\",\"signal\":1,\"type\":\"answer\"}",
            "{\"destination\":\"0123456789abcdef0123456789abcdef\",\"origin\":[]}",
            &"[".repeat(500),
        ] {
            super::compat_frames(text);
        }
    }

    #[test]
    fn odd_payloads_pass_through_the_socketio_decoders() {
        for body in [
            &b"6:42[\"new\",{\"offer\":{\"tid\":1},\"room\":\"r\"}]"[..],
            b"2:4x",
            b"\x00\x01\xff2\x01\x03\xff\x04\xde\xad",
            b"99999999999999999999:4",
            b"3:42[",
        ] {
            super::socketio_payloads(body);
        }
    }
}
