//! Reassembling fragmented WebSocket messages, with the size limit applied to the
//! whole message rather than to each fragment.

use actix_ws::Item;
use bytes::BytesMut;

pub enum Assembled {
    /// More fragments are expected.
    Pending,
    Text(String),
    Binary,
    /// The message grew past the limit, or the fragments were not valid UTF-8 text.
    TooLarge,
    Invalid,
}

pub struct Assembler {
    limit: usize,
    buf: BytesMut,
    text: bool,
}

impl Assembler {
    pub fn new(limit: usize) -> Assembler {
        Assembler {
            limit,
            buf: BytesMut::new(),
            text: true,
        }
    }

    pub fn push(&mut self, item: Item) -> Assembled {
        let (bytes, last) = match item {
            Item::FirstText(b) => {
                self.restart(true);
                (b, false)
            }
            Item::FirstBinary(b) => {
                self.restart(false);
                (b, false)
            }
            Item::Continue(b) => (b, false),
            Item::Last(b) => (b, true),
        };
        if self.buf.len() + bytes.len() > self.limit {
            self.buf.clear();
            return Assembled::TooLarge;
        }
        self.buf.extend_from_slice(&bytes);
        if !last {
            return Assembled::Pending;
        }
        let whole = std::mem::take(&mut self.buf);
        if !self.text {
            return Assembled::Binary;
        }
        match String::from_utf8(whole.to_vec()) {
            Ok(text) => Assembled::Text(text),
            Err(_) => Assembled::Invalid,
        }
    }

    fn restart(&mut self, text: bool) {
        self.buf.clear();
        self.text = text;
    }
}
