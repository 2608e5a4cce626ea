//! The response body of an Engine.IO WebSocket: while the WebSocket probes, the frames
//! of the probe (`3probe`); once the client upgrades, the session's outbox, one
//! WebSocket message per Engine.IO packet, encoded as the socket takes them (see
//! `transport/body.rs` for why on demand).

use super::session::ENGINE_SEPARATOR;
use crate::core::conn::{OutboxReceiver, Outgoing};
use crate::transport::body::{encode, CHUNK};
use actix_http::ws::Codec;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::{mpsc, OwnedMutexGuard};

/// What the WebSocket's task hands its body.
pub(super) enum Staged {
    /// A frame of the probe.
    Frame(Outgoing),
    /// The upgrade: from now on, the session's outbox.
    Drain(OwnedMutexGuard<OutboxReceiver>),
}

pub(super) struct WsBody {
    staged: mpsc::UnboundedReceiver<Staged>,
    outbox: Option<OwnedMutexGuard<OutboxReceiver>>,
    codec: Codec,
    done: bool,
}

impl WsBody {
    pub(super) fn new(staged: mpsc::UnboundedReceiver<Staged>) -> WsBody {
        WsBody {
            staged,
            outbox: None,
            codec: Codec::new(),
            done: false,
        }
    }

    fn encode(&mut self, item: Outgoing, buf: &mut BytesMut) {
        match item {
            Outgoing::Text(text) if text.contains(ENGINE_SEPARATOR) => {
                for packet in text.split(ENGINE_SEPARATOR) {
                    let packet = Outgoing::Text(text.slice_ref(packet));
                    encode(&mut self.codec, packet, buf);
                }
            }
            item => self.done |= encode(&mut self.codec, item, buf),
        }
    }
}

impl Stream for WsBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut buf = BytesMut::new();
        while !this.done && buf.len() < CHUNK {
            let next = match &mut this.outbox {
                Some(outbox) => outbox.poll_recv(cx),
                None => match this.staged.poll_recv(cx) {
                    Poll::Ready(Some(Staged::Drain(outbox))) => {
                        this.outbox = Some(outbox);
                        continue;
                    }
                    Poll::Ready(Some(Staged::Frame(item))) => Poll::Ready(Some(item)),
                    Poll::Ready(None) => Poll::Ready(None),
                    Poll::Pending => Poll::Pending,
                },
            };
            match next {
                Poll::Ready(Some(item)) => this.encode(item, &mut buf),
                Poll::Ready(None) => this.done = true,
                Poll::Pending => break,
            }
        }
        if !buf.is_empty() {
            Poll::Ready(Some(Ok(buf.freeze())))
        } else if this.done {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }
}
