//! What an Engine.IO WebSocket writes: once it carries its session, the session's
//! outbox, one WebSocket message per Engine.IO packet, encoded as the socket takes them
//! (see `transport/writer.rs` for why on demand); before that, while it probes the
//! upgrade of a polling session, the frames of the probe (`3probe`).

use super::packet::ENGINE_SEPARATOR;
use crate::core::conn::{OutboxReceiver, Outgoing};
use crate::transport::writer::{encode, Frames};
use actix_http::ws::Codec;
use bytes::BytesMut;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// A session's outbox, as the WebSocket that carries the session writes it.
pub(super) struct Packets(pub(super) OutboxReceiver);

impl Frames for Packets {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        self.0.poll_recv(cx)
    }

    fn encode(&mut self, codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
        encode_packets(codec, item, buf)
    }
}

/// [`encode`], but an outbox text may hold several packets ([`ENGINE_SEPARATOR`]): one
/// message each.
fn encode_packets(codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
    match item {
        Outgoing::Text(text) if text.contains(ENGINE_SEPARATOR) => {
            for packet in text.split(ENGINE_SEPARATOR) {
                encode(codec, Outgoing::Text(text.slice_ref(packet)), buf);
            }
            false
        }
        item => encode(codec, item, buf),
    }
}

/// What a probing WebSocket's task hands its body.
pub(super) enum Staged {
    /// A frame of the probe.
    Frame(Outgoing),
    /// The upgrade: from now on, the session's outbox.
    Drain(OutboxReceiver),
}

/// The frames of a probing WebSocket: the probe's, then, once the client upgrades, the
/// session's outbox.
pub(super) struct ProbeFrames {
    staged: mpsc::UnboundedReceiver<Staged>,
    outbox: Option<Packets>,
}

impl ProbeFrames {
    pub(super) fn new(staged: mpsc::UnboundedReceiver<Staged>) -> ProbeFrames {
        ProbeFrames {
            staged,
            outbox: None,
        }
    }
}

impl Frames for ProbeFrames {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        loop {
            if let Some(outbox) = &mut self.outbox {
                return outbox.poll_frame(cx);
            }
            return match self.staged.poll_recv(cx) {
                Poll::Ready(Some(Staged::Drain(outbox))) => {
                    self.outbox = Some(Packets(outbox));
                    continue;
                }
                Poll::Ready(Some(Staged::Frame(item))) => Poll::Ready(Some(item)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    fn encode(&mut self, codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
        encode_packets(codec, item, buf)
    }
}
