//! A store that times its writes for `/metrics` (`switchboard_store_write_seconds`,
//! `switchboard_store_flush_seconds`): the latency members wait on when they create,
//! attend or are moderated.

use super::{Change, Snapshot, Store, StoreError, StoredWorkspace};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use prometheus_client::metrics::histogram::Histogram;
use std::sync::Arc;
use std::time::Instant;

/// `inner`, with each `apply` observed in `write` and each `sync` in `flush`.
pub struct Timed {
    pub(super) inner: Arc<dyn Store>,
    pub(super) write: Histogram,
    pub(super) flush: Histogram,
}

impl Store for Timed {
    fn load(&self) -> Result<Snapshot, StoreError> {
        self.inner.load()
    }

    fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        let start = Instant::now();
        let result = self.inner.apply(changes);
        self.write.observe(start.elapsed().as_secs_f64());
        result
    }

    fn sync(&self) -> BoxFuture<'static, Result<(), StoreError>> {
        let start = Instant::now();
        let flush = self.flush.clone();
        self.inner
            .sync()
            .inspect(move |_| flush.observe(start.elapsed().as_secs_f64()))
            .boxed()
    }

    fn load_workspace(
        &self,
        wid: &str,
    ) -> BoxFuture<'static, Result<Option<StoredWorkspace>, StoreError>> {
        self.inner.load_workspace(wid)
    }

    fn workspace_ids(&self) -> BoxFuture<'static, Result<Vec<String>, StoreError>> {
        self.inner.workspace_ids()
    }

    fn close(&self) {
        self.inner.close()
    }
}
