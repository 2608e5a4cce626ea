//! The writing half of a WebSocket connection: the outbox, encoded into frames as the
//! socket takes them.
//!
//! Frames are taken from the outbox only when the socket has taken what was encoded
//! before, which is only as fast as the peer reads: every unsent byte stays inside the
//! outbox, where it is counted against `max_outbound_bytes` and watched for stalls. The
//! writer holds no buffer between bursts, so an idle connection costs none.

use crate::core::conn::{OutboxReceiver, Outgoing};
use actix_http::ws::{CloseCode, CloseReason, Codec, Message};
use bytes::{Bytes, BytesMut};
use std::future::{poll_fn, Future};
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::AsyncWrite;

/// Encoded bytes written at once, at most (a frame is never split).
const CHUNK: usize = 16 * 1024;

/// How long a connection's last frames, its close frame among them, may take to be
/// written once it is over (PROTOCOL.md 1.1): a peer that does not read them is cut off.
pub const CLOSE_BOUND: Duration = Duration::from_secs(2);

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

/// Writes the frames of `F` to the socket `W`.
pub(crate) struct Writer<F, W> {
    frames: F,
    socket: W,
    /// The socket's descriptor, to cut the connection off.
    fd: RawFd,
    codec: Codec,
    /// Encoded and not yet written; empty (no allocation) between bursts.
    buf: BytesMut,
    /// The close frame has been encoded, or the frames ended: nothing more to encode.
    done: bool,
    /// Everything is written, or the socket failed: the writer has nothing left to do.
    finished: Option<std::io::Result<()>>,
}

impl<F: Frames, W: AsyncWrite + Unpin> Writer<F, W> {
    pub(crate) fn new(frames: F, socket: W, fd: RawFd) -> Self {
        Writer {
            frames,
            socket,
            fd,
            codec: Codec::new(),
            buf: BytesMut::new(),
            done: false,
            finished: None,
        }
    }

    /// Writes what the frames hold; ready once the close frame (or the frames' end) is
    /// written, or the socket failed. Ready again on every later poll.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.finished.is_none() {
            if let Poll::Ready(result) = self.poll_frames(cx) {
                self.finished = Some(result);
            }
        }
        match self.finished {
            Some(_) => Poll::Ready(()),
            None => Poll::Pending,
        }
    }

    fn poll_frames(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            while !self.done && self.buf.len() < CHUNK {
                match self.frames.poll_frame(cx) {
                    Poll::Ready(Some(item)) => {
                        self.done |= self.frames.encode(&mut self.codec, item, &mut self.buf)
                    }
                    Poll::Ready(None) => self.done = true,
                    Poll::Pending => break,
                }
            }
            if self.buf.is_empty() {
                ready!(Pin::new(&mut self.socket).poll_flush(cx))?;
                return match self.done {
                    true => Poll::Ready(Ok(())),
                    false => Poll::Pending,
                };
            }
            let written = ready!(Pin::new(&mut self.socket).poll_write(cx, &self.buf))?;
            if written == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            let _ = self.buf.split_to(written);
            if self.buf.is_empty() {
                // Released: an idle connection keeps no buffer.
                self.buf = BytesMut::new();
            }
        }
    }

    /// Runs `task` (the connection's reading side) while writing; returns its output.
    /// A socket that fails to write fails to read too: the reading side sees the end.
    /// `task` is pinned by the caller: taken by value, it would be stored twice in the
    /// caller's future (once as the argument, once pinned), in every idle connection.
    pub(crate) fn beside<'a, T: Future>(
        &'a mut self,
        mut task: Pin<&'a mut T>,
    ) -> impl Future<Output = T::Output> + 'a {
        poll_fn(move |cx| {
            // The writer first: the task may spend the whole of tokio's cooperative budget
            // reading, and a socket operation after that would wait for the next poll.
            // Then again after the task, which may have queued a reply to what it read:
            // it leaves now if budget is left.
            let _ = self.poll_write(cx);
            let output = task.as_mut().poll(cx);
            let _ = self.poll_write(cx);
            output
        })
    }

    /// Writes what is left, the close frame included, then the FIN (TLS's close_notify
    /// first), by `deadline`: a peer that does not read by then is cut off (RST).
    /// Returns whether all of it was written.
    pub(crate) async fn finish(&mut self, deadline: tokio::time::Instant) -> bool {
        let flushed = async {
            poll_fn(|cx| self.poll_write(cx)).await;
            if matches!(self.finished, Some(Ok(()))) {
                return poll_fn(|cx| Pin::new(&mut self.socket).poll_shutdown(cx))
                    .await
                    .is_ok();
            }
            false
        };
        match tokio::time::timeout_at(deadline, flushed).await {
            Ok(written) => written,
            Err(_) => {
                tracing::info!("aborting a connection whose peer does not read");
                super::socket::abort(self.fd);
                false
            }
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
