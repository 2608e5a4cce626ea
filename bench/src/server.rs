//! A Switchboard under measurement: the real `run`, in this process, on its own thread
//! and runtime so the load generator does not share its threads.

use std::net::SocketAddr;
use switchboard::config::{Secret, StorageBackend};
use switchboard::Config;
use tokio::sync::oneshot;

pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Limits lifted so that they do not cap what is measured.
    pub fn start(backend: StorageBackend) -> anyhow::Result<Server> {
        let dir = tempfile::tempdir()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut config = Config::default();
        config.server.workers = 1;
        config.storage.backend = backend;
        config.storage.path = dir.path().join("store");
        config.secrets.jwt = Some(Secret::new("bench-secret-bench-secret-bench-secret"));
        config.limits.creates_per_minute = 1_000_000;
        config.limits.requests_per_second = 1_000_000;
        config.limits.request_burst = 1_000_000;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("server runtime");
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(e) = runtime.block_on(switchboard::run(config, listener, shutdown)) {
                eprintln!("server failed: {e}");
            }
        });
        Ok(Server {
            addr,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        })
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
