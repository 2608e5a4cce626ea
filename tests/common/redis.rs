//! A real `redis-server` for the cluster's tests: on a free port, persisting to a
//! temporary directory with `appendonly yes` and `appendfsync always`, as
//! docs/cluster.md asks of production. It can be stopped, killed and started again on
//! the same port and files, which is how the tests take Redis away from running nodes.

use super::within;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    pub async fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("a directory for redis-server");
        let mut server = RedisServer {
            port: 0,
            dir,
            child: None,
        };
        // The free port is found by binding it and letting go: another process may
        // take it in between, so a start that cannot listen tries another one.
        for _ in 0..5 {
            server.port = free_port();
            if server.launch().await {
                return server;
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// A connection of the test's own, to look at what the nodes stored. It waits for
    /// answers as long as they take (the redis crate gives up after 500 ms by default,
    /// which a loaded machine exceeds): the test's own deadlines bound every wait.
    #[allow(dead_code)]
    pub async fn connection(&self) -> ::redis::aio::MultiplexedConnection {
        let config = ::redis::AsyncConnectionConfig::new().set_response_timeout(None);
        ::redis::Client::open(self.url())
            .expect("a Redis client")
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("Redis")
    }

    /// Stops it as an operator would (SIGTERM, which flushes the append-only file),
    /// and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of a child this process started and still owns.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let waited = tokio::task::spawn_blocking(move || child.wait());
            within("redis-server to stop", waited)
                .await
                .expect("the waiting thread")
                .expect("wait for redis-server");
        }
    }

    /// Starts it again on the same port and files; waits until it answers.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "redis-server is still running");
        assert!(self.launch().await, "redis-server did not start again");
    }

    async fn launch(&mut self) -> bool {
        let child = redis_command(self.port, self.dir.path())
            .spawn()
            .expect("start redis-server (the test script installs it)");
        self.child = Some(child);
        let port = self.port;
        let answered = async {
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return true;
                }
                let exited = self
                    .child
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                if exited.is_some() {
                    self.child = None;
                    return false;
                }
                // Nothing to await from a process that has not yet bound its port:
                // polled at a short interval, bounded by `within`.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        within("redis-server to listen", answered).await
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn redis_command(port: u16, dir: &Path) -> Command {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("its address").port()
}
