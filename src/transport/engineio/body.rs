//! The response body of an Engine.IO WebSocket: while the WebSocket probes, the frames
//! of the probe (`3probe`); once the client upgrades, the session's outbox, one
//! WebSocket message per Engine.IO packet, encoded as the socket takes them (see
//! `transport/writer.rs` for why on demand).

use super::session::ENGINE_SEPARATOR;
use crate::core::conn::{OutboxReceiver, Outgoing};
use crate::transport::writer::{encode, Frames};
use actix_http::ws::Codec;
use bytes::BytesMut;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, OwnedMutexGuard};

/// What the WebSocket's task hands its body.
pub(super) enum Staged {
    /// A frame of the probe.
    Frame(Outgoing),
    /// The upgrade: from now on, the session's outbox.
    Drain(OwnedMutexGuard<OutboxReceiver>),
}

/// The frames of an Engine.IO WebSocket: the probe's, then the session's outbox, one
/// WebSocket message per Engine.IO packet.
pub(super) struct EngineFrames {
    staged: mpsc::UnboundedReceiver<Staged>,
    outbox: Option<OwnedMutexGuard<OutboxReceiver>>,
}

impl EngineFrames {
    pub(super) fn new(staged: mpsc::UnboundedReceiver<Staged>) -> EngineFrames {
        EngineFrames {
            staged,
            outbox: None,
        }
    }
}

impl Frames for EngineFrames {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        loop {
            if let Some(outbox) = &mut self.outbox {
                return outbox.poll_recv(cx);
            }
            return match self.staged.poll_recv(cx) {
                Poll::Ready(Some(Staged::Drain(outbox))) => {
                    self.outbox = Some(outbox);
                    continue;
                }
                Poll::Ready(Some(Staged::Frame(item))) => Poll::Ready(Some(item)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }

    /// An outbox text may hold several packets ([`ENGINE_SEPARATOR`]): one message each.
    fn encode(&mut self, codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
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
}
