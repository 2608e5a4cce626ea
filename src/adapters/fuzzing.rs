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
}
