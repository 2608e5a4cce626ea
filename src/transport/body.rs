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
pub(crate) const CHUNK: usize = 16 * 1024;

pub(crate) struct OutboundBody {
    rx: OutboxReceiver,
    codec: Codec,
    /// The close frame has been handed over: the body ends.
    done: bool,
}

impl OutboundBody {
    pub(crate) fn new(rx: OutboxReceiver) -> Self {
        OutboundBody {
            rx,
            codec: Codec::new(),
            done: false,
        }
    }

    fn encode(&mut self, item: Outgoing, buf: &mut BytesMut) {
        self.done |= encode(&mut self.codec, item, buf);
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

impl Stream for OutboundBody {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut buf = BytesMut::new();
        while !this.done && buf.len() < CHUNK {
            match this.rx.poll_recv(cx) {
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
