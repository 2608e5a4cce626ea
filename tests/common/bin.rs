//! The `switchboard` binary as an operator runs it: in an empty directory, with a config
//! file naming the store, the address read from its log, and SIGKILL for crashes.

use super::{within, SALT, SECRET};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// The binary in `dir` (no config.toml, no .env there), with `vars` set on top of a
/// clean environment.
pub fn switchboard(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("MAGICK_TOKEN")
        .env_remove("SALT_STRING")
        .env_remove("DEVELOPMENT")
        .env_remove("PORT")
        .env("RUST_LOG", "info")
        .envs(vars.iter().copied())
        .stdin(Stdio::null());
    cmd
}

/// The secrets of the in-process harness, so that both sign and hash alike.
pub const SECRETS: [(&str, &str); 2] = [("MAGICK_TOKEN", SECRET), ("SALT_STRING", SALT)];

/// Writes `dir/switchboard.toml`: the sled store at `store`, then `extra` (more TOML
/// sections). Returns the file's path.
pub fn write_config(dir: &Path, store: &Path, extra: &str) -> PathBuf {
    let path = dir.join("switchboard.toml");
    let text = format!(
        "[storage]\nbackend = \"sled\"\npath = {}\n\n{extra}",
        toml_string(store)
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    path
}

fn toml_string(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 temporary path");
    format!("'{text}'")
}

/// Runs `cmd` to completion, within the harness's bound.
pub async fn output_of(mut cmd: Command) -> Output {
    let run = tokio::task::spawn_blocking(move || cmd.output());
    within("the binary to exit", run)
        .await
        .expect("the waiting thread")
        .expect("start the binary")
}

/// Asserts a failed run; returns its stderr.
pub fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "the binary should have failed; stdout: {}; stderr: {stderr}",
        String::from_utf8_lossy(&output.stdout)
    );
    stderr
}

/// A running server process. Dropping it kills the process.
pub struct Running {
    pub child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
    /// Its log (stdout), one entry a line, as far as it has been read.
    log: watch::Receiver<Vec<String>>,
}

impl Running {
    /// Starts `switchboard --config config --port 0` in `dir` with the harness secrets;
    /// returns once the server logged its address.
    pub async fn start(dir: &Path, config: &Path) -> Running {
        let config = config.to_str().expect("a UTF-8 config path");
        Running::start_with(dir, &["--config", config]).await
    }

    /// Starts `switchboard ARGS --port 0` in `dir` with the harness secrets.
    pub async fn start_with(dir: &Path, args: &[&str]) -> Running {
        let args: Vec<&str> = args.iter().copied().chain(["--port", "0"]).collect();
        Running::spawn(switchboard(dir, &args, &SECRETS)).await
    }

    /// Starts `cmd` (which must make the server listen on a free port).
    pub async fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        let drained = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        let log = read_log(child.stdout.take().expect("piped stdout"));
        let mut waiting = log.clone();
        let started = waiting.wait_for(|lines| lines.iter().any(|l| listening_addr(l).is_some()));
        let addr = within("the server to log its address", started)
            .await
            .ok()
            .and_then(|lines| lines.iter().find_map(|l| listening_addr(l)));
        let Some(addr) = addr else {
            let _ = drained.join();
            let _ = child.wait();
            panic!("the server did not start: {}", stderr.lock().unwrap());
        };
        Running {
            child,
            addr,
            stderr,
            log,
        }
    }

    /// The log lines read so far.
    pub fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }

    /// Waits for a log line that satisfies `wanted` (`what` names it); returns it.
    pub async fn log_line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let mut log = self.log.clone();
        let found = within(what, log.wait_for(|lines| lines.iter().any(|l| wanted(l)))).await;
        let lines = found.unwrap_or_else(|_| panic!("the log ended before {what}"));
        let line = lines
            .iter()
            .find(|l| wanted(l))
            .expect("the line waited for");
        line.clone()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// SIGKILL, then waits for the process to be gone.
    pub async fn kill9(mut self) {
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL) };
        assert_eq!(rc, 0, "SIGKILL delivered");
        let mut child = std::mem::replace(&mut self.child, placeholder());
        let waited = tokio::task::spawn_blocking(move || child.wait());
        within("the killed process to exit", waited)
            .await
            .unwrap()
            .expect("wait for the child");
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

/// An exited process standing in for a child already waited for.
fn placeholder() -> Child {
    let mut child = Command::new("true").spawn().expect("run `true`");
    let _ = child.wait();
    child
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the log, the whole of it (so the server never blocks on a full pipe), on a
/// thread of its own; the channel closes when the log does.
fn read_log(stdout: std::process::ChildStdout) -> watch::Receiver<Vec<String>> {
    let (lines, log) = watch::channel(Vec::new());
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lines.send_modify(|all| all.push(line));
        }
    });
    log
}

/// The address in the line where the server says where it listens, text or JSON.
fn listening_addr(line: &str) -> Option<String> {
    let at = line.find("listening on http")?;
    let rest = line[at..].split_once("://")?.1;
    let addr = rest.split(|c: char| c.is_whitespace() || c == '"').next()?;
    Some(addr.to_string())
}
