//! The response body of a WebSocket connection: the outbox, encoded into frames as the
//! socket takes them.
//!
//! actix-http polls a response body only when its write buffer has room, which is only
//! as fast as the peer reads. Encoding here, on demand, rather than in a writer task
//! that pushes into a channel, keeps every unsent byte inside the outbox, where it is
//! counted against `max_outbound_bytes` and watched for stalls.

use crate::core::conn::{OutboxReceiver, Outgoing};
use actix_http::ws::{CloseCode, CloseReason, Codec, Message};
use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Encoded bytes handed over per poll, at most (a frame is never split).
const CHUNK: usize = 16 * 1024;

/// Where a WebSocket body takes its frames: a connection's outbox, or a source that
/// ends in one (an Engine.IO session's, after its probe).
pub(crate) trait Frames: Unpin {
    /// The next frame to send, as [`OutboxReceiver::poll_recv`].
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>>;

    /// Appends `item` to `buf`; true for the close frame. One WebSocket frame per item,
    /// unless a protocol packs several messages in one item.
    fn encode(&mut self, codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
        encode(codec, item, buf)
    }
}

impl Frames for OutboxReceiver {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        self.poll_recv(cx)
    }
}

pub(crate) struct OutboundBody<F = OutboxReceiver> {
    frames: F,
    codec: Codec,
    /// The close frame has been handed over: the body ends.
    done: bool,
}

impl<F: Frames> OutboundBody<F> {
    pub(crate) fn new(frames: F) -> Self {
        OutboundBody {
            frames,
            codec: Codec::new(),
            done: false,
        }
    }
}

/// Appends `item` to `buf` as one WebSocket frame; true for the close frame, after
/// which nothing more may be sent.
pub(crate) fn encode(codec: &mut Codec, item: Outgoing, buf: &mut BytesMut) -> bool {
    let mut closing = false;
    let message = match item {
        Outgoing::Text(text) => Message::Text(text),
        Outgoing::Ping => Message::Ping(Bytes::new()),
        Outgoing::Pong(payload) => Message::Pong(payload),
        Outgoing::Close(code, reason) => {
            closing = true;
            Message::Close(Some(CloseReason {
                code: CloseCode::from(code),
                description: (!reason.is_empty()).then(|| reason.to_string()),
            }))
        }
    };
    // Encoding a server frame cannot fail: no masking, sizes already bounded.
    let _ = actix_codec::Encoder::encode(codec, message, buf);
    closing
}

impl<F: Frames> Stream for OutboundBody<F> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut buf = BytesMut::new();
        while !this.done && buf.len() < CHUNK {
            match this.frames.poll_frame(cx) {
                Poll::Ready(Some(item)) => {
                    this.done |= this.frames.encode(&mut this.codec, item, &mut buf)
                }
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
