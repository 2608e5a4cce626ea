//! A connection's outbound queue, as the rest of the server sees it.
//!
//! Anyone may push to a member without waiting: the queue is unbounded in count but
//! bounded in bytes, and every frame counts, pings, pongs and the close frame included
//! (PROTOCOL.md 1.1). Three ways in, by whose traffic it is:
//!
//! - [`Outbox::send`]: the connection's own replies and pongs. A client that keeps
//!   asking without reading takes its queue past `max_outbound_bytes` and is closed 1008.
//! - [`Outbox::relay`]: a signal from another member. Refused while the queue holds half
//!   of `max_outbound_bytes`, so a fast sender is told `rate_limited` instead of getting
//!   a slower target evicted.
//! - [`Outbox::offer`]: a push to several members. Skipped for a target without room.
//!
//! A non-empty queue that has not shrunk for `stall_secs` belongs to a peer that stopped
//! reading: it is closed 1008 ([`Outbox::stall_check`]). The queue shrinks when the
//! socket's writer takes frames, which it does only as fast as the peer reads.

use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Normal closure (RFC 6455 §7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
/// The server is shutting down.
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// A WebSocket protocol violation.
pub const CLOSE_PROTOCOL: u16 = 1002;
/// Text that is not UTF-8.
pub const CLOSE_INVALID_DATA: u16 = 1007;
/// A policy violation: flooding, a slow or stalled consumer.
pub const CLOSE_POLICY: u16 = 1008;
/// A message over `max_message_bytes`.
pub const CLOSE_TOO_LARGE: u16 = 1009;
/// The node is draining: reconnect, to another node where there is one, and
/// `re-attend` (PROTOCOL.md 1.1; RFC 6455's registry calls it "Service Restart").
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// The native protocol's close of a connection replaced by a newer one.
pub const CLOSE_REPLACED: u16 = 4001;
/// The native protocol's close of a kicked member.
pub const CLOSE_KICKED: u16 = 4003;

/// The reason of a 1012 that is not a drain: the node cannot go on serving this
/// connection's workspace as it is (a cluster node declared dead while cut off, or a
/// change the store did not take).
pub(crate) const RECONNECT: &str = "reconnect and re-attend";

/// The close reasons another node may ask for (a kick, a replaced connection, a slow
/// peer), as this node's own `'static` strings: a reason crosses the bus as text, and a
/// close frame keeps a `&'static str`. Any other text closes with an empty reason.
pub(crate) fn known_reason(reason: &str) -> &'static str {
    const KNOWN: [&str; 7] = [
        RECONNECT,
        "kicked by the owner",
        "replaced by a newer root",
        "outbound queue full: the client is not reading",
        "replaced by a newer connection",
        "the client stopped reading",
        "server draining: reconnect",
    ];
    KNOWN.into_iter().find(|k| *k == reason).unwrap_or("")
}

/// One frame waiting for the socket's writer.
#[derive(Debug)]
pub enum Outgoing {
    /// A text message.
    Text(ByteString),
    /// A heartbeat ping.
    Ping,
    /// The answer to the peer's ping, with its payload.
    Pong(bytes::Bytes),
    /// The close frame: code and reason.
    Close(u16, &'static str),
}

impl Outgoing {
    /// Bytes this frame takes on the wire, header included (RFC 6455 §5.2: at most 10
    /// bytes of header from a server).
    fn cost(&self) -> usize {
        const HEADER: usize = 10;
        HEADER
            + match self {
                Outgoing::Text(text) => text.len(),
                Outgoing::Ping => 0,
                Outgoing::Pong(payload) => payload.len(),
                Outgoing::Close(_, reason) => 2 + reason.len(),
            }
    }
}

/// The queue was too full for a relay: the sender should slow down.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// The sending side of a connection's queue; clones share it.
pub struct Outbox {
    shared: Arc<Shared>,
}

/// The frames themselves. A queue that is empty holds no allocation once it has let go
/// of a burst: an idle connection costs none.
struct Frames {
    items: VecDeque<Outgoing>,
    /// `Outbox`es alive: at none, the queue ends once drained.
    senders: usize,
    /// The receiver is alive: without it, pushes are dropped.
    received: bool,
}

/// Capacity an empty queue keeps for the next burst; beyond it, it lets go.
const KEPT_CAPACITY: usize = 4;

struct Shared {
    frames: Mutex<Frames>,
    /// The receiver's task, woken by a push.
    waker: AtomicWaker,
    /// Unique per connection: tells a member's current socket from one it replaced.
    id: u64,
    /// Bytes queued and not yet taken by the socket's writer.
    queued: AtomicUsize,
    limit: usize,
    stall: Duration,
    /// Milliseconds (since [`EPOCH`]) of the last time the queue shrank or became
    /// non-empty: the start of a possible stall.
    progress_ms: AtomicU64,
    /// Whether the connection loop is timing a stall; when not, the first push into an
    /// empty queue wakes it through `busy`.
    watched: AtomicBool,
    busy: Notify,
    /// Set once a close is queued; later pushes are dropped.
    closing: AtomicBool,
    /// Set when the queue overflowed: what is still queued will not be read either.
    overflowed: AtomicBool,
    /// Set when the queue was closed for not shrinking.
    stalled: AtomicBool,
    /// Set, and `collected` notified, once the socket's writer took the close.
    close_collected: AtomicBool,
    collected: Notify,
    /// Cancelled once the close frame is queued: wakes the reader and the writer.
    closed: CancellationToken,
}

/// The socket writer's side of the queue.
pub struct OutboxReceiver {
    shared: Arc<Shared>,
}

impl Shared {
    fn frames(&self) -> MutexGuard<'_, Frames> {
        // The lock guards no invariant a panic could break halfway.
        self.frames.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` unless the receiver is gone (the connection's cleanup is under way).
    fn enqueue(&self, item: Outgoing) {
        let mut frames = self.frames();
        if frames.received {
            // Into a queue that holds frames, the receiver has not parked: no wake.
            let parked = frames.items.is_empty();
            frames.items.push_back(item);
            drop(frames);
            if parked {
                self.waker.wake();
            }
        }
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.frames().senders += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        let mut frames = self.shared.frames();
        frames.senders -= 1;
        if frames.senders == 0 {
            drop(frames);
            self.shared.waker.wake();
        }
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        let mut frames = self.shared.frames();
        frames.received = false;
        frames.items = VecDeque::new();
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

fn now_ms() -> u64 {
    EPOCH.elapsed().as_millis() as u64
}

impl Outbox {
    /// A queue of at most `limit` bytes, closed when it has not shrunk for `stall`.
    pub fn new(limit: usize, stall: Duration) -> (Outbox, OutboxReceiver) {
        let shared = Arc::new(Shared {
            frames: Mutex::new(Frames {
                items: VecDeque::new(),
                senders: 1,
                received: true,
            }),
            waker: AtomicWaker::new(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            queued: AtomicUsize::new(0),
            limit,
            stall,
            progress_ms: AtomicU64::new(now_ms()),
            watched: AtomicBool::new(false),
            busy: Notify::new(),
            closing: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            stalled: AtomicBool::new(false),
            close_collected: AtomicBool::new(false),
            collected: Notify::new(),
            closed: CancellationToken::new(),
        });
        (
            Outbox {
                shared: shared.clone(),
            },
            OutboxReceiver { shared },
        )
    }

    /// The connection's number, unique on this node ([`super::ConnId::local`]).
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// Queues one of the connection's own frames (a reply, an alert, a pong). Past
    /// `max_outbound_bytes` the client is not reading: close 1008.
    pub fn send(&self, text: ByteString) {
        self.push(Outgoing::Text(text), self.shared.limit);
    }

    /// Queues a signal from another member, unless the queue already holds half of
    /// `max_outbound_bytes`: then `Err(Full)`, and the sender is told to slow down.
    pub fn relay(&self, text: ByteString) -> Result<(), Full> {
        let room = self.shared.limit / 2;
        let item = Outgoing::Text(text);
        if self.shared.queued.load(Ordering::Acquire) + item.cost() > room {
            return Err(Full);
        }
        self.push(item, self.shared.limit);
        Ok(())
    }

    /// Queues a push sent to several members, if this one has room (less than half of
    /// `max_outbound_bytes` queued); a target without room misses it.
    pub fn offer(&self, text: &ByteString) {
        let _ = self.relay(text.clone());
    }

    /// Queues a heartbeat ping.
    pub fn ping(&self) {
        self.push(Outgoing::Ping, self.shared.limit);
    }

    /// Queues the answer to the peer's ping; it counts against the queue like any frame.
    pub fn pong(&self, payload: bytes::Bytes) {
        self.push(Outgoing::Pong(payload), self.shared.limit);
    }

    fn push(&self, item: Outgoing, limit: usize) {
        if self.is_closing() {
            return;
        }
        let cost = item.cost();
        let before = self.shared.queued.fetch_add(cost, Ordering::AcqRel);
        if before + cost > limit {
            self.shared.queued.fetch_sub(cost, Ordering::AcqRel);
            tracing::warn!(conn = self.id(), queued = before, "slow consumer closed");
            self.shared.overflowed.store(true, Ordering::Release);
            self.close(
                CLOSE_POLICY,
                "outbound queue full: the client is not reading",
            );
            return;
        }
        if before == 0 {
            self.shared.progress_ms.store(now_ms(), Ordering::Release);
            if !self.shared.watched.swap(true, Ordering::AcqRel) {
                self.shared.busy.notify_one();
            }
        }
        self.shared.enqueue(item);
    }

    /// Queues a close frame after everything already queued, and stops the reader.
    /// Only the first close counts.
    pub fn close(&self, code: u16, reason: &'static str) {
        if self.shared.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let item = Outgoing::Close(code, reason);
        self.shared.queued.fetch_add(item.cost(), Ordering::AcqRel);
        self.shared.enqueue(item);
        self.shared.closed.cancel();
    }

    /// Whether the queue was closed because its consumer did not read it: it overflowed
    /// or stalled.
    pub fn was_slow(&self) -> bool {
        self.shared.overflowed.load(Ordering::Acquire)
            || self.shared.stalled.load(Ordering::Acquire)
    }

    /// Whether a close has been queued (by anyone).
    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    /// Resolves once a close has been queued (by anyone).
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await
    }

    /// Resolves once the socket's writer has taken the close frame: what an Engine.IO
    /// polling session, which has no socket, waits for before it ends, so that its
    /// client's next poll still gets the close packet.
    pub async fn close_collected(&self) {
        let notified = self.shared.collected.notified();
        if self.shared.close_collected.load(Ordering::Acquire) {
            return;
        }
        notified.await
    }

    /// Resolves when a push lands in an empty queue that nobody is timing.
    pub async fn busy(&self) {
        self.shared.busy.notified().await
    }

    /// Watches the queue for stalls for as long as the connection lives: resolves once
    /// the queue is closed, by [`Outbox::stall_check`] or anyone else. Polled beside the
    /// connection's reads, it costs nothing while the queue is empty.
    pub async fn watch_stalls(&self) {
        loop {
            match self.stall_check() {
                None if self.is_closing() => return,
                // A close queues no push, so it wakes no `busy`: wait for either. (An
                // Engine.IO session, which no socket read wakes, lingered until its ping
                // timeout after a server's close.)
                None => {
                    tokio::select! {
                        _ = self.busy() => {}
                        _ = self.closed() => return,
                    }
                }
                Some(at) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at.into()) => {}
                        _ = self.closed() => return,
                    }
                }
            }
        }
    }

    /// Closes a stalled queue with 1008 and returns `None`; otherwise returns when the
    /// queue would count as stalled next (`None` when it is empty: [`Outbox::busy`] says
    /// when to ask again).
    pub fn stall_check(&self) -> Option<Instant> {
        let shared = &self.shared;
        if shared.queued.load(Ordering::Acquire) == 0 || self.is_closing() {
            shared.watched.store(false, Ordering::Release);
            // A push may have landed between the load and the store: look once more.
            if shared.queued.load(Ordering::Acquire) == 0 || self.is_closing() {
                return None;
            }
            shared.watched.store(true, Ordering::Release);
        }
        let since = shared.progress_ms.load(Ordering::Acquire);
        let due = since + shared.stall.as_millis() as u64;
        let now = now_ms();
        if now >= due {
            tracing::warn!(conn = self.id(), "stalled consumer closed");
            self.shared.stalled.store(true, Ordering::Release);
            self.close(CLOSE_POLICY, "the client stopped reading");
            return None;
        }
        Some(Instant::now() + Duration::from_millis(due - now))
    }
}

impl OutboxReceiver {
    /// The next frame for the socket, if one is queued. Texts still queued when the
    /// queue overflowed are dropped: the consumer is not reading them.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        loop {
            let Poll::Ready(item) = self.poll_next(cx) else {
                return Poll::Pending;
            };
            let Some(item) = item else {
                return Poll::Ready(None);
            };
            self.shared.queued.fetch_sub(item.cost(), Ordering::AcqRel);
            self.shared.progress_ms.store(now_ms(), Ordering::Release);
            if matches!(item, Outgoing::Close(..)) {
                self.shared.close_collected.store(true, Ordering::Release);
                self.shared.collected.notify_waiters();
            }
            if matches!(item, Outgoing::Text(_)) && self.shared.overflowed.load(Ordering::Acquire) {
                continue;
            }
            return Poll::Ready(Some(item));
        }
    }

    /// The next frame; `None` once the queue is drained and no `Outbox` is left.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        for registered in [false, true] {
            let mut frames = self.shared.frames();
            if let Some(item) = frames.items.pop_front() {
                if frames.items.is_empty() && frames.items.capacity() > KEPT_CAPACITY {
                    frames.items = VecDeque::new();
                }
                return Poll::Ready(Some(item));
            }
            if frames.senders == 0 {
                return Poll::Ready(None);
            }
            drop(frames);
            if registered {
                break;
            }
            // Registered, then looked at once more: a push in between is not missed.
            self.shared.waker.register(cx.waker());
        }
        Poll::Pending
    }

    #[cfg(test)]
    async fn recv(&mut self) -> Option<Outgoing> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn an_overflowing_queue_closes_with_1008() {
        let (out, mut rx) = Outbox::new(40, STALL);
        out.send("123456".into());
        out.send("123456".into());
        out.send("dropped".into());
        assert!(matches!(
            rx.recv().await,
            Some(Outgoing::Close(CLOSE_POLICY, _))
        ));
        out.closed().await;
    }

    #[tokio::test]
    async fn pongs_count_against_the_queue() {
        let (out, _rx) = Outbox::new(1000, STALL);
        for _ in 0..100 {
            out.pong(bytes::Bytes::from_static(&[0; 100]));
        }
        assert!(out.is_closing());
    }

    #[tokio::test]
    async fn relays_stop_at_half_and_leave_the_target_open() {
        let (out, mut rx) = Outbox::new(100, STALL);
        assert_eq!(out.relay("x".repeat(30).into()), Ok(()));
        assert_eq!(out.relay("x".repeat(30).into()), Err(Full));
        assert!(!out.is_closing());
        assert!(matches!(rx.recv().await, Some(Outgoing::Text(_))));
        assert_eq!(out.relay("x".repeat(30).into()), Ok(()));
    }

    #[tokio::test]
    async fn only_the_first_close_counts() {
        let (out, mut rx) = Outbox::new(100, STALL);
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

    #[tokio::test]
    async fn a_close_ends_a_watch_parked_on_an_empty_queue() {
        let (out, _rx) = Outbox::new(1000, STALL);
        let watching = out.clone();
        let watch = tokio::spawn(async move { watching.watch_stalls().await });
        // On this one-thread runtime, the watch runs now and parks: the queue is empty.
        tokio::task::yield_now().await;
        out.close(CLOSE_NORMAL, "");
        let ended = tokio::time::timeout(Duration::from_secs(10), watch).await;
        ended.expect("the watch ended with the close").unwrap();
    }

    #[tokio::test]
    async fn the_watch_ends_with_the_queue() {
        let (out, _rx) = Outbox::new(1000, Duration::ZERO);
        let watching = out.clone();
        let watch = tokio::spawn(async move { watching.watch_stalls().await });
        out.send("waiting".into());
        watch.await.unwrap();
        assert!(out.is_closing(), "a queue that does not shrink is closed");
        let (out, _rx) = Outbox::new(1000, STALL);
        let watching = out.clone();
        let watch = tokio::spawn(async move { watching.watch_stalls().await });
        out.close(CLOSE_NORMAL, "");
        watch.await.unwrap();
    }

    #[tokio::test]
    async fn a_queue_that_does_not_shrink_is_closed() {
        let (out, _rx) = Outbox::new(1000, Duration::ZERO);
        assert_eq!(out.stall_check(), None);
        out.send("waiting".into());
        assert_eq!(out.stall_check(), None);
        assert!(out.is_closing());
    }
}
