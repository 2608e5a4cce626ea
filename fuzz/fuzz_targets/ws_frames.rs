//! WebSocket frames as the server reads them: arbitrary bytes, arriving in arbitrary
//! pieces, through `FrameReader`. Whatever arrives, the reader never panics, never
//! yields a message over the limit, and every violation is one of its three kinds.

#![no_main]

use bytes::Bytes;
use futures_util::{stream, FutureExt};
use libfuzzer_sys::fuzz_target;
use switchboard::transport::frames::{FrameReader, Inbound};

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    // The first byte picks how the rest is cut into reads: 1 to 256 bytes each.
    let piece = usize::from(split) + 1;
    let chunks: Vec<Result<Bytes, ()>> = bytes
        .chunks(piece)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let mut reader = FrameReader::new(stream::iter(chunks), LIMIT);
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
