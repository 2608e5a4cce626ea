//! Requests to another node that await its answer. Each gets an id unique on this node;
//! the node asked confirms receipt at once (`Control::Received`), then answers, and both
//! arrive on the bus. A request that is not confirmed within [`RECEIPT`] was lost (its
//! node is gone, or Redis dropped it); one to a node that dies, or made while Redis goes
//! down, ends at once; the rest end at their caller's own bound.

use super::Health;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long the node asked may take to confirm receipt.
const RECEIPT: Duration = Duration::from_secs(2);

/// Request ids, shared by every registry of this node, so that a receipt names one
/// request whichever registry holds it.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Requests in flight whose answers are `T`s.
pub(crate) struct Calls<T> {
    /// Request id to the node asked, and the waiting caller's receipt and answer.
    waiting: Mutex<HashMap<u64, Waiting<T>>>,
}

struct Waiting<T> {
    node: u64,
    received: Option<oneshot::Sender<()>>,
    answer: oneshot::Sender<T>,
}

impl<T> Default for Calls<T> {
    fn default() -> Self {
        Calls {
            waiting: Mutex::default(),
        }
    }
}

/// One request in flight; forgotten when dropped (answered, timed out, or abandoned).
pub(crate) struct Call<'a, T> {
    calls: &'a Calls<T>,
    pub(crate) id: u64,
    received: oneshot::Receiver<()>,
    answer: oneshot::Receiver<T>,
}

impl<T> Calls<T> {
    /// A new request to node `node`.
    pub(crate) fn open(&self, node: u64) -> Call<'_, T> {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (received_tx, received) = oneshot::channel();
        let (answer_tx, answer) = oneshot::channel();
        let waiting = Waiting {
            node,
            received: Some(received_tx),
            answer: answer_tx,
        };
        self.lock().insert(id, waiting);
        Call {
            calls: self,
            id,
            received,
            answer,
        }
    }

    /// Request `id` reached its node, if this registry holds it.
    pub(crate) fn received(&self, id: u64) {
        if let Some(tx) = self.lock().get_mut(&id).and_then(|w| w.received.take()) {
            let _ = tx.send(());
        }
    }

    /// The answer to request `id`, if it is still awaited.
    pub(crate) fn answer(&self, id: u64, answer: T) {
        if let Some(waiting) = self.lock().remove(&id) {
            let _ = waiting.answer.send(answer);
        }
    }

    /// Node `node` died: its requests end unanswered.
    pub(crate) fn abandon(&self, node: u64) {
        self.lock().retain(|_, w| w.node != node);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Waiting<T>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T> Call<'_, T> {
    /// The answer; `None` when the request was not received in time, its node died,
    /// Redis went down, or `limit` passed first.
    pub(crate) async fn answer(&mut self, health: &Health, limit: Duration) -> Option<T> {
        let receipt = async {
            tokio::time::timeout(RECEIPT, &mut self.received)
                .await
                .ok()?
                .ok()
        };
        tokio::select! {
            received = receipt => received?,
            () = health.down() => return None,
        }
        tokio::select! {
            answer = tokio::time::timeout(limit, &mut self.answer) => answer.ok()?.ok(),
            () = health.down() => None,
        }
    }
}

impl<T> Drop for Call<'_, T> {
    fn drop(&mut self) {
        self.calls.lock().remove(&self.id);
    }
}
