//! A connection's outbound queue, as the rest of the server sees it.
//!
//! Anyone may push to a member without waiting: the queue is unbounded in count but
//! bounded in bytes. A consumer that stops reading lets its queue grow past
//! `max_outbound_bytes`; it is then closed with 1008, and nobody who pushes to it ever
//! waits on it. Replies and pushes share this one queue, so a client sees them in the
//! order the hub produced them.

use bytestring::ByteString;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_TOO_LARGE: u16 = 1009;
pub const CLOSE_REPLACED: u16 = 4001;
pub const CLOSE_KICKED: u16 = 4003;

#[derive(Debug)]
pub enum Outgoing {
    Text(ByteString),
    Ping,
    Pong(bytes::Bytes),
    Close(u16, &'static str),
}

#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Outgoing>,
}

struct Shared {
    /// Unique per connection: tells a member's current socket from one it replaced.
    id: u64,
    /// Bytes of text queued and not yet handed to the socket.
    queued: AtomicUsize,
    limit: usize,
    /// Set once a close is queued; later pushes are dropped.
    closing: AtomicBool,
    /// Cancelled once the close frame is queued: wakes the reader and the writer.
    closed: CancellationToken,
}

pub struct OutboxReceiver {
    shared: Arc<Shared>,
    rx: mpsc::UnboundedReceiver<Outgoing>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Outbox {
    pub fn new(limit: usize) -> (Outbox, OutboxReceiver) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            queued: AtomicUsize::new(0),
            limit,
            closing: AtomicBool::new(false),
            closed: CancellationToken::new(),
        });
        (
            Outbox {
                shared: shared.clone(),
                tx,
            },
            OutboxReceiver { shared, rx },
        )
    }

    pub fn id(&self) -> u64 {
        self.shared.id
    }

    pub fn send(&self, text: ByteString) {
        if self.is_closing() {
            return;
        }
        let len = text.len();
        let before = self.shared.queued.fetch_add(len, Ordering::AcqRel);
        if before + len > self.shared.limit {
            tracing::warn!(
                conn = self.id(),
                queued = before + len,
                "slow consumer closed"
            );
            self.close(
                CLOSE_POLICY,
                "outbound queue full: the client is not reading",
            );
            return;
        }
        // A send error means the connection is gone; its cleanup is under way.
        let _ = self.tx.send(Outgoing::Text(text));
    }

    pub fn ping(&self) {
        if !self.is_closing() {
            let _ = self.tx.send(Outgoing::Ping);
        }
    }

    pub fn pong(&self, payload: bytes::Bytes) {
        if !self.is_closing() {
            let _ = self.tx.send(Outgoing::Pong(payload));
        }
    }

    /// Queues a close frame after everything already queued, and stops the reader.
    /// Only the first close counts.
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = self.tx.send(Outgoing::Close(code, reason));
        self.shared.closed.cancel();
    }

    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    /// Resolves once a close has been queued (by anyone).
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await
    }
}

impl OutboxReceiver {
    pub async fn recv(&mut self) -> Option<Outgoing> {
        let item = self.rx.recv().await?;
        if let Outgoing::Text(text) = &item {
            self.shared.queued.fetch_sub(text.len(), Ordering::AcqRel);
        }
        Some(item)
    }

    /// True when a close is queued: the remaining texts are not worth writing to a
    /// consumer that overflowed.
    pub fn overflowed(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
            && self.shared.queued.load(Ordering::Acquire) > self.shared.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_overflowing_queue_closes_with_1008() {
        let (out, mut rx) = Outbox::new(10);
        out.send("123456".into());
        out.send("123456".into());
        out.send("dropped".into());
        assert!(matches!(rx.recv().await, Some(Outgoing::Text(t)) if &*t == "123456"));
        assert!(matches!(
            rx.recv().await,
            Some(Outgoing::Close(CLOSE_POLICY, _))
        ));
        out.closed().await;
    }

    #[tokio::test]
    async fn only_the_first_close_counts() {
        let (out, mut rx) = Outbox::new(100);
        out.close(CLOSE_KICKED, "kicked");
        out.close(CLOSE_REPLACED, "replaced");
        out.send("late".into());
        assert!(matches!(
            rx.recv().await,
            Some(Outgoing::Close(CLOSE_KICKED, _))
        ));
        drop(out);
        assert!(rx.recv().await.is_none());
    }
}
