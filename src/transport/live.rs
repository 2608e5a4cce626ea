//! Every open WebSocket connection, so that shutdown reaches each one whatever it is
//! doing: a connection whose reader waits on a PIN hash is sent its 1001 by the
//! outbox, not when the hash is done.

use crate::hub::Outbox;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Live {
    /// Connection id to its outbox; locked only to add, remove, or close them all.
    conns: Mutex<HashMap<u64, Outbox>>,
}

/// Removes its connection from [`Live`] when dropped.
pub(crate) struct Registered {
    live: Arc<Live>,
    id: u64,
}

impl Live {
    pub(crate) fn add(self: &Arc<Self>, out: &Outbox) -> Registered {
        self.lock().insert(out.id(), out.clone());
        Registered {
            live: self.clone(),
            id: out.id(),
        }
    }

    /// Queues a close frame on every open connection.
    pub fn close_all(&self, code: u16, reason: &'static str) {
        for out in self.lock().values() {
            out.close(code, reason);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Outbox>> {
        // Plain inserts and removes: a panic elsewhere cannot leave the map half-changed.
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.live.lock().remove(&self.id);
    }
}
