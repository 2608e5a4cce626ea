//! WebSocket frames as the server reads them: arbitrary bytes, arriving in arbitrary
//! pieces, through `FrameReader`. Whatever arrives, the reader never panics, never
//! yields a message over the limit, and every violation is one of its three kinds.

#![no_main]

use bytes::BytesMut;
use futures_util::FutureExt;
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use switchboard::transport::frames::{FrameReader, Inbound};
use tokio::io::{AsyncRead, ReadBuf};

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    // The first byte picks how the rest is cut into reads: 1 to 256 bytes each.
    let piece = usize::from(split) + 1;
    let chunks = bytes.chunks(piece).map(<[u8]>::to_vec).collect();
    let mut reader = FrameReader::new(Chunks(chunks), BytesMut::new(), LIMIT);
    loop {
        // The input never waits, so neither does the reader.
        let next = reader.next().now_or_never().expect("a ready input never pends");
        match next {
            None | Some(Err(_)) => break,
            Some(Ok(Inbound::Text(text))) => assert!(text.len() <= LIMIT),
            Some(Ok(_)) => {}
        }
    }
});

/// A socket that yields its chunks one read each, then ends.
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
