//! What every scenario shares: the servers under measurement as separate processes,
//! client sockets spread over loopback source addresses, timestamps, and results.

use anyhow::Context;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The two servers every figure compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The real `target/release/switchboard`.
    Switchboard,
    /// `switchboard-bench bare-relay`: pairs sockets and forwards frames, nothing else.
    Bare,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Switchboard => "switchboard",
            Target::Bare => "bare",
        }
    }
}

/// Options shared by every scenario that starts servers.
#[derive(clap::Args, Clone, Debug)]
pub struct Common {
    /// The Switchboard binary to measure (default: the one built next to this program,
    /// which follows CARGO_TARGET_DIR).
    #[arg(long, default_value_os_t = sibling_binary("switchboard"))]
    pub switchboard_bin: PathBuf,
    /// Workspace capacity the Switchboard is configured with (`workspace.max_capacity`).
    #[arg(long, default_value_t = 5)]
    pub capacity: usize,
    /// Writes the scenario's figures here as JSON (for `report`).
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// `name` in the directory of this program.
pub fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name(name)
}

/// Raises this process's RLIMIT_NOFILE to its hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

/// Connections one process can hold on this machine, with room for everything else.
pub fn max_connections() -> usize {
    (raise_nofile() as usize).saturating_sub(512)
}

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Microseconds since the first call: the clock of every timestamp in a payload.
pub fn now_us() -> u64 {
    us_at(Instant::now())
}

/// `at` on the clock of `now_us`.
pub fn us_at(at: Instant) -> u64 {
    at.saturating_duration_since(origin()).as_micros() as u64
}

/// 127.0.0.2 to 127.0.0.251 in turn, so that no single source address runs out of
/// ephemeral ports.
fn next_source() -> SocketAddr {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (n % 250) as u8)), 0)
}

/// A WebSocket to `addr` + `path`, from the next loopback source address.
pub async fn connect(addr: SocketAddr, path: &str) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(next_source())?;
    let stream = socket.connect(addr).await?;
    // As the server does: with Nagle's algorithm, a frame written behind one not yet
    // acknowledged waits for the peer's delayed ACK (about 40 ms).
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}{path}");
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
    Ok(ws)
}

/// A server under measurement, in its own process, and what it speaks.
pub struct ServerProcess {
    pub target: Target,
    pub process: Process,
}

/// Any server under measurement, in its own process (killed when dropped).
pub struct Process {
    pub addr: SocketAddr,
    name: String,
    child: Child,
    /// Its log lines at WARN and ERROR, as the log drain finds them.
    alerts: Arc<Mutex<Alerts>>,
    _dir: tempfile::TempDir,
}

/// A server's log lines at WARN or ERROR: how many, and the first few.
#[derive(Default, Clone, Debug)]
pub struct Alerts {
    pub count: usize,
    pub first: Vec<String>,
}

impl Alerts {
    const KEPT: usize = 20;

    fn note(&mut self, line: &str) {
        if !(line.contains(" WARN ") || line.contains(" ERROR ")) {
            return;
        }
        self.count += 1;
        if self.first.len() < Alerts::KEPT {
            self.first.push(line.chars().take(400).collect());
        }
    }
}

impl std::ops::Deref for ServerProcess {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.process
    }
}

impl std::ops::DerefMut for ServerProcess {
    fn deref_mut(&mut self) -> &mut Process {
        &mut self.process
    }
}

impl ServerProcess {
    pub fn start(target: Target, common: &Common) -> anyhow::Result<ServerProcess> {
        match target {
            Target::Switchboard => ServerProcess::switchboard(
                &common.switchboard_bin,
                &switchboard_config(common.capacity),
            ),
            Target::Bare => {
                let mut command = Command::new(std::env::current_exe()?);
                command.arg("bare-relay");
                let process = Process::spawn("bare", command, tempfile::tempdir()?)?;
                Ok(ServerProcess { target, process })
            }
        }
    }

    /// The Switchboard binary `bin`, with `config` (TOML) as its config file.
    pub fn switchboard(bin: &Path, config: &str) -> anyhow::Result<ServerProcess> {
        ServerProcess::switchboard_under(&[], bin, config)
    }

    /// As `switchboard`, started by `launcher` (a program and its first arguments, e.g. a
    /// heap profiler), which is given `bin` and the server's arguments after them.
    pub fn switchboard_under(
        launcher: &[OsString],
        bin: &Path,
        config: &str,
    ) -> anyhow::Result<ServerProcess> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config)?;
        // The server starts in `dir`: a path given relative to here would not be found.
        let bin = std::path::absolute(bin)?;
        let mut command = match launcher {
            [program, args @ ..] => {
                let mut command = Command::new(program);
                command.args(args).arg(bin);
                command
            }
            [] => Command::new(bin),
        };
        command
            .arg("--config")
            .arg(&path)
            .env(
                "MAGICK_TOKEN",
                "bench-secret-0123456789abcdef0123456789abcdef",
            )
            .env("RUST_LOG", "info");
        let process = Process::spawn("switchboard", command, dir)?;
        Ok(ServerProcess {
            target: Target::Switchboard,
            process,
        })
    }
}

impl Process {
    /// Starts `command` in `dir` and reads the address it listens on from its log
    /// (a line with `listening on http://HOST:PORT`).
    pub fn spawn(
        name: &str,
        mut command: Command,
        dir: tempfile::TempDir,
    ) -> anyhow::Result<Process> {
        // The working directory is empty: no .env or config.toml of the checkout is read.
        command
            .env_remove("PORT")
            .env_remove("HOST")
            .env_remove("DEVELOPMENT")
            .env_remove("ENABLE_HTTPS")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // The server needs as many descriptors as the load generator.
        unsafe {
            command.pre_exec(|| {
                raise_nofile();
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start the {name} server"))?;
        let alerts = Arc::new(Mutex::new(Alerts::default()));
        let stdout = child.stdout.take().expect("piped stdout");
        let addr = listening_address(stdout, alerts.clone());
        let addr = match addr.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr.parse().context("server address")?,
            Err(_) => {
                let _ = child.kill();
                anyhow::bail!("the {name} server did not say where it listens");
            }
        };
        Ok(Process {
            addr,
            name: name.to_string(),
            child,
            alerts,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        rss_of(self.pid())
    }

    /// The most the server has been resident, bytes (VmHWM).
    pub fn peak_rss(&self) -> anyhow::Result<u64> {
        status_bytes(self.pid(), "VmHWM:")
    }

    /// Its log lines at WARN and ERROR so far.
    pub fn alerts(&self) -> Alerts {
        self.alerts.lock().map(|a| a.clone()).unwrap_or_default()
    }

    /// Waits up to `within` for the process to exit on its own (after a signal sent to it
    /// or to what it runs); fails past that.
    pub async fn wait_exit(&mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let until = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            anyhow::ensure!(
                Instant::now() < until,
                "the {} server did not exit within {within:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Fails when the server has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("the {} server exited: {status}", self.name);
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address the server logs once it listens; then keeps draining the log so that
/// the pipe never fills, noting the lines at WARN and ERROR in `alerts`.
fn listening_address(
    stdout: std::process::ChildStdout,
    alerts: Arc<Mutex<Alerts>>,
) -> std::sync::mpsc::Receiver<String> {
    let (found, addr) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut alerts) = alerts.lock() {
                alerts.note(&line);
            }
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
                if let Some(found) = found.take() {
                    let _ = found.send(rest[..end].to_string());
                }
            }
        }
    });
    addr
}

pub fn rss_of(pid: u32) -> anyhow::Result<u64> {
    status_bytes(pid, "VmRSS:")
}

/// utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock ticks), in seconds.
pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let rest = &stat[stat.rfind(')').context("/proc/<pid>/stat")? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).context("utime")?.parse::<u64>()?
        + fields.get(12).context("stime")?.parse::<u64>()?;
    // SAFETY: sysconf only reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    Ok(ticks as f64 / per_second as f64)
}

/// A `kB` figure of /proc/<pid>/status, in bytes.
fn status_bytes(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key}"))?;
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .with_context(|| format!("{key} value"))?
        .parse()?;
    Ok(kib * 1024)
}

pub fn switchboard_config(capacity: usize) -> String {
    format!(
        r#"[server]
host = "127.0.0.1"
port = 0
development = true

[workspace]
max_capacity = {capacity}

[storage]
backend = "memory"

[limits]
creates_per_minute = 100000000
requests_per_second = 100000000
request_burst = 100000000
"#
    )
}

/// Writes `value` as JSON when asked to.
pub fn write_json(path: Option<&Path>, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(path) = path {
        std::fs::write(path, serde_json::to_string_pretty(value)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// Percentiles of a histogram of microseconds, as milliseconds.
pub fn percentiles_ms(h: &hdrhistogram::Histogram<u64>) -> serde_json::Value {
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    serde_json::json!({
        "count": h.len(),
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "p999": q(0.999),
        "max": h.max() as f64 / 1000.0,
    })
}

pub fn histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}
