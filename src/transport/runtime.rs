//! Where connections run once they are WebSockets, and Engine.IO sessions: one
//! work-stealing tokio runtime for the node, beside actix's HTTP workers.
//!
//! actix-server gives each worker thread a runtime of its own, and a connection stays on
//! the worker that accepted it. A relayed message would then mostly wake its target on
//! the other worker (an eventfd write, a sleeping thread woken, the target's state in
//! the other core's cache), and a busy worker could not pass ready connections to an
//! idle one. On a multi-thread runtime the sender's thread runs the woken target next
//! (tokio's LIFO slot), and idle threads steal from busy ones. On the 2-core benchmark
//! machine this took CPU per relayed message at 64 pairs from 4.6–5.0 µs to 2.8–3.1 µs
//! (`switchboard-bench signal-fire --pairs 1,64`, Switchboard's column). The price: a
//! single pair sending as fast as it can waits longer per message (p50 0.2 -> 0.5 ms in
//! `switchboard-bench relay --steps latency`), as a target woken on the sender's thread
//! runs once the sender's task has handled all that one read brought.
//!
//! The socket moves with it: it leaves the worker's reactor (epoll) and joins the
//! runtime's ([`super::upgrade::Stream::rehome`]).

use super::upgrade::Upgraded;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::runtime::Runtime;
use tokio_util::task::TaskTracker;

/// Threads of the runtime once built; 0: one per core.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the runtime's threads (`server.workers`, as many as HTTP's). Takes effect
/// only before the first connection: the runtime lives as long as the process, and
/// is shared by every server in it.
pub(crate) fn configure(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let threads = match THREADS.load(Ordering::Relaxed) {
            0 => crate::config::cores(),
            n => n,
        };
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("switchboard-conn")
            .enable_all()
            .build()
            // Only fails when the OS refuses threads or an epoll instance, at the first
            // connection: nothing could be served then.
            .expect("cannot start the connection runtime")
    })
}

/// Runs the connection's task, which `task` builds from `upgraded`, on the runtime,
/// tracked by `tracker`: shutdown waits for it. A socket that cannot change reactors (a
/// failing `epoll_ctl` or `dup`) is dropped, which its client sees as a reset.
pub(crate) fn spawn_upgraded<F, T>(tracker: &TaskTracker, upgraded: Upgraded, task: F)
where
    F: FnOnce(Upgraded) -> T,
    T: Future<Output = ()> + Send + 'static,
{
    let runtime = runtime();
    // Entered, so that the socket and anything the task makes at once (timers) belong
    // to the runtime's drivers.
    let _entered = runtime.enter();
    match upgraded.stream.rehome() {
        Ok(stream) => {
            let read = upgraded.read;
            runtime.spawn(tracker.track_future(task(Upgraded { stream, read })));
        }
        Err(e) => tracing::debug!("an upgraded socket could not change reactors: {e}"),
    }
}

/// Runs `task`, tracked by `tracker`, on the runtime: for the tasks of connections that
/// are not one socket (an Engine.IO session that polls).
pub(crate) fn spawn(tracker: &TaskTracker, task: impl Future<Output = ()> + Send + 'static) {
    runtime().spawn(tracker.track_future(task));
}
