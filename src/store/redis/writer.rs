//! The one task that writes to Redis, and what a `sync` learns from it.
//!
//! `apply` numbers each batch and queues it; `sync` queues a probe (an empty batch)
//! behind everything applied before it and waits for the writer to get there. The
//! writer takes whatever is queued (up to [`GROUP`] items), sends it as one MULTI/EXEC
//! (a PING when it is all probes) and waits for the answer before it takes more: batches
//! reach Redis strictly in the order they were applied, and one never overtakes another
//! still in flight. A group whose answer fails or does not come in time is dropped, not
//! retried, so that nothing reaches Redis after a later write. (A transaction that timed
//! out may still be in the connection's pipeline: it then runs before the next one on
//! that connection, still in order; its caller was told it failed.)
//!
//! Which syncs a lost batch fails: `sync` cannot tell which batches were its caller's,
//! so it answers for every batch applied before it, except those whose loss Redis has
//! since made good: a failure is *cleared* by the first batch written successfully that
//! was applied after the failure was known. A sync fails if its own probe was lost, or
//! a batch at or before it was lost and not cleared by a batch applied before the sync.
//! So every sync waiting when Redis goes away fails, and once Redis is back the first
//! write that goes through ends the failures: later syncs succeed. The hub calls `sync`
//! right after its `apply`, in the same poll: for its own lost batch to escape it, the
//! writer would have to lose that batch and write another in between.

use super::{GROUP, SYNC_TIMEOUT};
use ::redis::aio::ConnectionManager;
use ::redis::{Cmd, RedisError, RedisResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// One `apply`, or (with no commands) one `sync`'s probe.
pub(super) struct Item {
    seq: u64,
    applied_at: Instant,
    cmds: Vec<Cmd>,
}

/// Why a batch did not reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Lost {
    /// No answer, or the connection failed: the batch may or may not have been written.
    Unreachable(String),
    /// Redis answered with an error: nothing of the transaction was written (it was
    /// aborted), or, for a type error inside it, possibly part.
    Refused(String),
    /// The queue holds as many batches as it may: Redis has not taken writes for long.
    Full,
    /// The store was closed.
    Closed,
}

/// The sending side: `apply` and `sync` number their items here, in queue order.
pub(super) struct Queue {
    sending: Mutex<Sending>,
    /// The number of the last item queued, for the writer (see [`Ledger::failed`]).
    queued: Arc<AtomicU64>,
}

struct Sending {
    /// `None` once closed.
    tx: Option<mpsc::Sender<Item>>,
    last: u64,
}

impl Queue {
    /// A queue of `capacity` items and the receiving end for the writer.
    pub(super) fn new(capacity: usize) -> (Queue, mpsc::Receiver<Item>, Arc<AtomicU64>) {
        let (tx, rx) = mpsc::channel(capacity);
        let queued = Arc::new(AtomicU64::new(0));
        let sending = Sending {
            tx: Some(tx),
            last: 0,
        };
        let queue = Queue {
            sending: Mutex::new(sending),
            queued: queued.clone(),
        };
        (queue, rx, queued)
    }

    /// Queues `cmds` (a probe when empty) without waiting; returns its number.
    pub(super) fn push(&self, cmds: Vec<Cmd>) -> Result<u64, Lost> {
        let mut sending = lock(&self.sending);
        let seq = sending.last + 1;
        let item = Item {
            seq,
            applied_at: Instant::now(),
            cmds,
        };
        let tx = sending.tx.as_ref().ok_or(Lost::Closed)?;
        tx.try_send(item).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Lost::Full,
            mpsc::error::TrySendError::Closed(_) => Lost::Closed,
        })?;
        sending.last = seq;
        self.queued.store(seq, Ordering::Release);
        Ok(seq)
    }

    /// No more items: the writer ends once it has written what is queued.
    pub(super) fn close(&self) {
        lock(&self.sending).tx = None;
    }
}

/// What became of the items: how far the writer got, and what it lost.
pub(super) struct Ledger {
    /// The number of the last item the writer is done with (written or lost).
    done: watch::Sender<u64>,
    /// Lost ranges, oldest first: at most one not yet cleared (the last), and the
    /// cleared ones for as long as a sync may still need them.
    failures: Mutex<Vec<Failure>>,
}

#[derive(Debug)]
struct Failure {
    /// The first item lost; every one after it up to the next write is lost too.
    first: u64,
    /// The last item queued when the loss was known: only a later one clears it.
    known_at: u64,
    /// The item whose write cleared it, and when.
    cleared: Option<(u64, Instant)>,
    cause: Lost,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            done: watch::Sender::new(0),
            failures: Mutex::new(Vec::new()),
        }
    }
}

impl Ledger {
    /// Waits, within [`SYNC_TIMEOUT`], until the writer is done with `probe`; then
    /// whether everything a sync that queued it answers for was written.
    pub(super) async fn settled(&self, probe: u64) -> Result<(), Lost> {
        let mut done = self.done.subscribe();
        match tokio::time::timeout(SYNC_TIMEOUT, done.wait_for(|&d| d >= probe)).await {
            Err(_) => return Err(no_answer()),
            Ok(Err(_)) => return Err(Lost::Closed),
            Ok(Ok(_)) => {}
        }
        self.verdict(probe)
    }

    /// See the module doc: lost at or before `probe`, and not cleared before it.
    fn verdict(&self, probe: u64) -> Result<(), Lost> {
        let failures = lock(&self.failures);
        let open = |f: &&Failure| f.cleared.is_none_or(|(by, _)| by >= probe);
        match failures.iter().filter(|f| f.first <= probe).find(open) {
            Some(f) => Err(f.cause.clone()),
            None => Ok(()),
        }
    }

    /// Items `first..=last` were written.
    fn written(&self, first: u64, last: u64) {
        let now = Instant::now();
        let mut failures = lock(&self.failures);
        prune(&mut failures, now);
        if let Some(f) = failures.last_mut().filter(|f| f.cleared.is_none()) {
            if last > f.known_at {
                f.cleared = Some((first.max(f.known_at + 1), now));
            }
        }
        drop(failures);
        self.done.send_replace(last);
    }

    /// Items `first..=last` were lost; `known_at` is the last item queued now. A loss
    /// that follows an uncleared one extends it: nothing was written in between that
    /// could have cleared the first.
    fn failed(&self, first: u64, last: u64, known_at: u64, cause: Lost) {
        let mut failures = lock(&self.failures);
        prune(&mut failures, Instant::now());
        match failures.last_mut().filter(|f| f.cleared.is_none()) {
            Some(f) => {
                f.known_at = known_at;
                f.cause = cause;
            }
            None => failures.push(Failure {
                first,
                known_at,
                cleared: None,
                cause,
            }),
        }
        drop(failures);
        self.done.send_replace(last);
    }
}

/// Forgets failures cleared longer ago than any sync waits: a sync that still needed
/// one (queued before the clearing item) has timed out.
fn prune(failures: &mut Vec<Failure>, now: Instant) {
    failures.retain(|f| match f.cleared {
        Some((_, at)) => now.duration_since(at) <= SYNC_TIMEOUT,
        None => true,
    });
}

fn no_answer() -> Lost {
    Lost::Unreachable(format!("no answer within {} s", SYNC_TIMEOUT.as_secs()))
}

/// The writer task: runs until the queue is closed and empty.
pub(super) async fn run(
    mut rx: mpsc::Receiver<Item>,
    mut conn: ConnectionManager,
    ledger: Arc<Ledger>,
    queued: Arc<AtomicU64>,
) {
    let mut group = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut group, GROUP).await > 0 {
        let fresh = expire(&mut group, &ledger, &queued);
        if !fresh.is_empty() {
            write(&mut conn, fresh, &ledger, &queued).await;
        }
        group.clear();
    }
}

/// Drops the items whose syncs have given up (Redis was away): writing them now would
/// write what the hub was told failed. They are the oldest, so the first ones.
fn expire<'a>(group: &'a mut [Item], ledger: &Ledger, queued: &AtomicU64) -> &'a mut [Item] {
    let now = Instant::now();
    let stale = group
        .iter()
        .take_while(|i| now.duration_since(i.applied_at) >= SYNC_TIMEOUT)
        .count();
    if stale > 0 {
        let known_at = queued.load(Ordering::Acquire);
        let cause = Lost::Unreachable("not written in time".to_string());
        ledger.failed(group[0].seq, group[stale - 1].seq, known_at, cause);
    }
    &mut group[stale..]
}

/// Sends `items` as one transaction, within the oldest one's sync bound.
async fn write(
    conn: &mut ConnectionManager,
    items: &mut [Item],
    ledger: &Ledger,
    queued: &AtomicU64,
) {
    let (first, last) = (items[0].seq, items[items.len() - 1].seq);
    let deadline = items[0].applied_at + SYNC_TIMEOUT;
    let pipe = transaction(items);
    let sent = tokio::time::timeout_at(deadline.into(), send(conn, pipe.as_ref())).await;
    let outcome = match sent {
        Ok(Ok(())) => return ledger.written(first, last),
        Ok(Err(e)) => lost(&e),
        Err(_) => no_answer(),
    };
    tracing::warn!(first, last, "Redis store: writes lost: {outcome:?}");
    ledger.failed(first, last, queued.load(Ordering::Acquire), outcome);
}

/// One MULTI/EXEC of every item's commands; `None` when they are all probes.
fn transaction(items: &mut [Item]) -> Option<::redis::Pipeline> {
    let mut pipe = ::redis::pipe();
    pipe.atomic();
    let mut any = false;
    for cmd in items.iter_mut().flat_map(|i| i.cmds.drain(..)) {
        pipe.add_command(cmd);
        any = true;
    }
    any.then_some(pipe)
}

/// Sends, trying once more when no connection could be made: then nothing was sent,
/// and the manager has begun to reconnect (after its last retry it only starts again
/// on the next command, which would otherwise fail once more after Redis is back).
async fn send(conn: &mut ConnectionManager, pipe: Option<&::redis::Pipeline>) -> RedisResult<()> {
    match send_once(conn, pipe).await {
        Err(e) if e.is_connection_refusal() => send_once(conn, pipe).await,
        other => other,
    }
}

async fn send_once(
    conn: &mut ConnectionManager,
    pipe: Option<&::redis::Pipeline>,
) -> RedisResult<()> {
    match pipe {
        Some(pipe) => pipe.exec_async(conn).await,
        None => ::redis::cmd("PING").exec_async(conn).await,
    }
}

/// An I/O error (timeouts and closed connections included) leaves the outcome unknown;
/// anything else is an answer from Redis.
fn lost(e: &RedisError) -> Lost {
    if e.is_io_error() {
        Lost::Unreachable(e.to_string())
    } else {
        Lost::Refused(e.to_string())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> Lost {
        Lost::Unreachable("down".into())
    }

    #[test]
    fn a_redis_store_sync_fails_for_a_lost_batch_until_a_later_one_is_written() {
        let ledger = Ledger::default();
        // Batch 1 and its sync's probe 2 are lost together.
        ledger.failed(1, 2, 2, down());
        assert_eq!(ledger.verdict(2), Err(down()));
        // Redis is back: batch 3 and probe 4, queued after the loss, are written.
        ledger.written(3, 4);
        assert_eq!(ledger.verdict(4), Ok(()));
        // A sync whose probe was queued before the clearing batch still fails.
        assert_eq!(ledger.verdict(3), Err(down()));
    }

    #[test]
    fn a_redis_store_write_queued_before_the_loss_was_known_does_not_clear_it() {
        let ledger = Ledger::default();
        // Batch 1 is lost while batch 2 (another caller's) already waits.
        ledger.failed(1, 1, 2, down());
        ledger.written(2, 2);
        // The first caller's sync (probe 3) must still learn of its loss.
        assert_eq!(ledger.verdict(3), Err(down()));
        ledger.written(3, 4);
        assert_eq!(ledger.verdict(5), Ok(()));
    }

    #[test]
    fn a_redis_store_merges_consecutive_losses_and_keeps_the_latest_cause() {
        let ledger = Ledger::default();
        ledger.failed(1, 1, 1, down());
        ledger.failed(2, 3, 3, Lost::Refused("OOM".into()));
        assert_eq!(lock(&ledger.failures).len(), 1);
        assert_eq!(ledger.verdict(1), Err(Lost::Refused("OOM".into())));
        ledger.written(4, 4);
        assert_eq!(ledger.verdict(5), Ok(()));
        assert_eq!(*ledger.done.borrow(), 4);
    }

    #[test]
    fn a_redis_store_queue_refuses_when_full_and_after_close() {
        let (queue, _rx, queued) = Queue::new(2);
        assert_eq!(queue.push(Vec::new()), Ok(1));
        assert_eq!(queue.push(Vec::new()), Ok(2));
        assert_eq!(queue.push(Vec::new()), Err(Lost::Full));
        assert_eq!(queued.load(Ordering::Acquire), 2);
        queue.close();
        assert_eq!(queue.push(Vec::new()), Err(Lost::Closed));
    }
}
