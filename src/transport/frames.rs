//! Reading WebSocket frames from a connection, every byte bounded before it is
//! buffered.
//!
//! actix-http's codec decodes a frame only once all of it has arrived, and checks its
//! size only then: a header declaring 2^62 bytes would have it buffer whatever the peer
//! sends. So the reader looks at each frame header first (RFC 6455 §5.2) and refuses a
//! frame, or a fragmented message, over the limit before reading its payload; and it
//! pulls bytes from the socket only while the frame in progress is incomplete, so what
//! it holds never exceeds one frame and one read. Between frames it holds nothing: an
//! idle connection costs no buffer.
//!
//! Fragments are reassembled here, and a text message is judged whole: invalid UTF-8 is
//! a violation (close 1007, §8.1) whether the message came in one frame or in many.

use actix_codec::Decoder;
use actix_http::ws::{Codec, Frame, Item};
use bytes::{Bytes, BytesMut};
use bytestring::ByteString;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Bytes read from the socket at once, at most.
const READ_CHUNK: usize = 8 * 1024;

/// One frame, as the connection loop sees it.
#[derive(Debug)]
pub enum Inbound {
    /// A whole text message, valid UTF-8.
    Text(ByteString),
    /// A whole binary message (its content is not kept: the protocol has no use for it).
    Binary,
    /// A fragment of a message that is not complete yet.
    Fragment,
    Ping(Bytes),
    Pong,
    /// A close frame, with its status code when it has one (1001: the page went away).
    Close(Option<u16>),
}

/// Why the reader gave up on a connection; each maps to one close code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A frame, or a fragmented message, over `max_message_bytes` (close 1009).
    TooLarge,
    /// A text message that is not UTF-8 (close 1007).
    InvalidUtf8,
    /// Anything else RFC 6455 forbids: unmasked frames, bad opcodes, fragmented or
    /// oversized control frames, continuations out of place (close 1002).
    Protocol(String),
}

/// A fragmented message in progress.
struct Partial {
    text: bool,
    /// Bytes so far, counted even for binary messages, whose content is dropped.
    len: usize,
    bytes: BytesMut,
}

/// What a frame header says (RFC 6455 §5.2).
struct Header {
    fin: bool,
    opcode: u8,
    len: u64,
}

pub struct FrameReader<S> {
    input: S,
    buf: BytesMut,
    codec: Codec,
    limit: usize,
    partial: Option<Partial>,
    /// The header at the front of `buf` has passed the checks.
    checked: bool,
}

type Next = Option<Result<Inbound, Violation>>;

impl<S: AsyncRead + Unpin> FrameReader<S> {
    /// Reads frames from `input`, after those in `read` (bytes already read from it);
    /// messages over `limit` bytes are refused.
    pub fn new(input: S, read: BytesMut, limit: usize) -> Self {
        FrameReader {
            input,
            buf: read,
            codec: Codec::new().max_size(limit),
            limit,
            partial: None,
            checked: false,
        }
    }

    /// The next frame; `None` once the peer's side of the connection has ended.
    pub async fn next(&mut self) -> Next {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        loop {
            if let Some(next) = self.decode() {
                if self.buf.is_empty() {
                    // Let go of the read's allocation (the message keeps its share).
                    self.buf = BytesMut::new();
                }
                return Poll::Ready(Some(next));
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.input).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(None),
                Poll::Ready(Ok(())) => self.buf.extend_from_slice(read.filled()),
                // A transport error ends the connection like an end of stream.
                Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Reads and drops whatever the peer still sends, until it closes its side: after a
    /// close, so that the socket is not closed with unread bytes, which would reset the
    /// connection and could lose the close frame on its way to the peer.
    pub async fn discard(&mut self) {
        self.buf = BytesMut::new();
        std::future::poll_fn(|cx| loop {
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            match Pin::new(&mut self.input).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => continue,
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    /// A frame from what is buffered, or `None` when more bytes are needed.
    fn decode(&mut self) -> Option<Result<Inbound, Violation>> {
        if !self.checked {
            let header = peek(&self.buf)?;
            if let Err(violation) = self.check(&header) {
                return Some(Err(violation));
            }
            self.checked = true;
        }
        match self.codec.decode(&mut self.buf) {
            Ok(None) => None,
            Ok(Some(frame)) => {
                self.checked = false;
                Some(self.frame(frame))
            }
            Err(e) => Some(Err(Violation::Protocol(e.to_string()))),
        }
    }

    /// The limits a header is held to before its payload is read.
    fn check(&self, header: &Header) -> Result<(), Violation> {
        let protocol = |why: &str| Err(Violation::Protocol(why.to_string()));
        let len = usize::try_from(header.len).unwrap_or(usize::MAX);
        match header.opcode {
            0x8..=0xF if !header.fin => protocol("fragmented control frame"),
            0x8..=0xF if len > 125 => protocol("control frame over 125 bytes"),
            0x0 => match &self.partial {
                Some(p) if len > self.limit.saturating_sub(p.len) => Err(Violation::TooLarge),
                Some(_) => Ok(()),
                None => protocol("continuation frame outside a fragmented message"),
            },
            _ if len > self.limit => Err(Violation::TooLarge),
            _ => Ok(()),
        }
    }

    fn frame(&mut self, frame: Frame) -> Result<Inbound, Violation> {
        Ok(match frame {
            Frame::Text(bytes) => Inbound::Text(utf8(bytes)?),
            Frame::Binary(_) => Inbound::Binary,
            Frame::Ping(bytes) => Inbound::Ping(bytes),
            Frame::Pong(_) => Inbound::Pong,
            Frame::Close(reason) => Inbound::Close(reason.map(|r| r.code.into())),
            Frame::Continuation(item) => return self.fragment(item),
        })
    }

    fn fragment(&mut self, item: Item) -> Result<Inbound, Violation> {
        let (bytes, last) = match item {
            Item::FirstText(b) => (self.start(true, b), false),
            Item::FirstBinary(b) => (self.start(false, b), false),
            Item::Continue(b) => (b, false),
            Item::Last(b) => (b, true),
        };
        let Some(partial) = &mut self.partial else {
            return Err(Violation::Protocol("continuation out of place".into()));
        };
        partial.len += bytes.len();
        if partial.len > self.limit {
            return Err(Violation::TooLarge);
        }
        if partial.text {
            partial.bytes.extend_from_slice(&bytes);
        }
        if !last {
            return Ok(Inbound::Fragment);
        }
        let whole = self.partial.take().map(|p| (p.text, p.bytes));
        match whole {
            Some((true, bytes)) => Ok(Inbound::Text(utf8(bytes.freeze())?)),
            _ => Ok(Inbound::Binary),
        }
    }

    /// Opens a fragmented message; its first bytes are counted by the caller.
    fn start(&mut self, text: bool, first: Bytes) -> Bytes {
        self.partial = Some(Partial {
            text,
            len: 0,
            bytes: BytesMut::new(),
        });
        first
    }
}

fn utf8(bytes: Bytes) -> Result<ByteString, Violation> {
    ByteString::try_from(bytes).map_err(|_| Violation::InvalidUtf8)
}

/// The header at the front of `buf`, once its length fields have arrived.
fn peek(buf: &[u8]) -> Option<Header> {
    let (first, second) = (*buf.first()?, *buf.get(1)?);
    let len = match second & 0x7F {
        126 => u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
        127 => u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?),
        n => u64::from(n),
    };
    Some(Header {
        fin: first & 0x80 != 0,
        opcode: first & 0x0F,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::client_frames::frame;
    use std::collections::VecDeque;

    /// A socket that yields `chunks` one read each, then ends.
    struct Chunks(VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(chunk) = self.0.pop_front() {
                buf.put_slice(&chunk);
            }
            Poll::Ready(Ok(()))
        }
    }

    async fn read_all(chunks: Vec<Vec<u8>>, limit: usize) -> Vec<Result<Inbound, Violation>> {
        let mut reader = FrameReader::new(Chunks(chunks.into()), BytesMut::new(), limit);
        let mut out = Vec::new();
        while let Some(next) = reader.next().await {
            let stop = next.is_err();
            out.push(next);
            if stop {
                break;
            }
        }
        out
    }

    #[tokio::test]
    async fn a_huge_declared_length_is_refused_from_the_header() {
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&(1u64 << 62).to_be_bytes());
        // Nothing after the header has arrived: the verdict needs no payload.
        let out = read_all(vec![header], 1024).await;
        assert!(matches!(out[..], [Err(Violation::TooLarge)]));
    }

    #[tokio::test]
    async fn a_fragmented_message_is_limited_as_a_whole() {
        let chunks = vec![frame(false, 1, &[b'a'; 600]), frame(false, 0, &[b'a'; 600])];
        let out = read_all(chunks, 1024).await;
        assert!(matches!(
            out[..],
            [Ok(Inbound::Fragment), Err(Violation::TooLarge)]
        ));
    }

    #[tokio::test]
    async fn invalid_utf8_split_across_fragments_is_a_violation() {
        // "é" is C3 A9; each half alone is invalid, and so is C3 followed by 28.
        let chunks = vec![frame(false, 1, b"ok \xC3"), frame(true, 0, b"(")];
        let out = read_all(chunks, 1024).await;
        assert!(matches!(out[1], Err(Violation::InvalidUtf8)));
        let chunks = vec![frame(false, 1, b"ok \xC3"), frame(true, 0, b"\xA9")];
        let out = read_all(chunks, 1024).await;
        assert!(matches!(&out[1], Ok(Inbound::Text(t)) if &**t == "ok é"));
    }

    #[tokio::test]
    async fn control_frames_must_be_whole_and_short() {
        let out = read_all(vec![frame(false, 9, b"")], 1024).await;
        assert!(matches!(out[..], [Err(Violation::Protocol(_))]));
        let out = read_all(vec![frame(true, 9, &[0; 126])], 1024).await;
        assert!(matches!(out[..], [Err(Violation::Protocol(_))]));
    }

    #[tokio::test]
    async fn frames_split_anywhere_decode_the_same() {
        let bytes = [frame(true, 1, b"{\"event\":\"x\"}"), frame(true, 9, b"p")].concat();
        let chunks = bytes.iter().map(|b| vec![*b]).collect();
        let out = read_all(chunks, 1024).await;
        assert!(matches!(&out[0], Ok(Inbound::Text(t)) if &**t == "{\"event\":\"x\"}"));
        assert!(matches!(&out[1], Ok(Inbound::Ping(p)) if &p[..] == b"p"));
    }
}
