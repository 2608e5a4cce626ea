//! The cluster's Redis under measurement: one `redis-server` on a free port, persisting
//! as docs/cluster.md asks of production (`appendonly yes`, `appendfsync always`), and
//! what the bench reads from it: its counters (`INFO commandstats`, `INFO memory`,
//! `DBSIZE`) and the size of given keys (`MEMORY USAGE`).

use anyhow::Context;
use serde_json::{json, Map, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Commands the bench itself sends, left out of every count of the nodes' commands.
const OURS: [&str; 7] = [
    "info", "dbsize", "memory", "scan", "latency", "hello", "client",
];

pub struct RedisServer {
    pub url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts `bin` and waits until it answers; a port taken in between is tried again.
    pub fn start(bin: &Path) -> anyhow::Result<RedisServer> {
        let mut last = None;
        for _ in 0..5 {
            match RedisServer::launch(bin) {
                Ok(server) => return Ok(server),
                Err(e) if e.is::<std::io::Error>() => return Err(e),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("redis-server did not start")))
    }

    fn launch(bin: &Path) -> anyhow::Result<RedisServer> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--save", ""])
            // Redis's own record of what blocked its event loop for 1 ms or more (an
            // fsync of the append-only file, say): while it is blocked, no PUBLISH moves.
            .args(["--latency-monitor-threshold", "1"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                let hint = "the cluster scenario runs one (apt-get install redis-server, as scripts/test does; or --redis-server PATH)";
                anyhow::Error::new(e).context(format!("cannot start {}: {hint}", bin.display()))
            })?;
        let mut server = RedisServer {
            url: format!("redis://127.0.0.1:{port}"),
            child,
            _dir: dir,
        };
        server.wait_until_it_answers()?;
        Ok(server)
    }

    fn wait_until_it_answers(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.connection().is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("redis-server exited at start: {status}");
            }
            if Instant::now() > deadline {
                anyhow::bail!("redis-server did not answer within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A connection of its own (a few per run: the reads are rare).
    pub fn connection(&self) -> anyhow::Result<redis::Connection> {
        connect(&self.url)
    }

    /// Fails when it has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            anyhow::bail!("redis-server exited: {status}");
        }
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to the Redis at `url`, once it answers.
pub fn connect(url: &str) -> anyhow::Result<redis::Connection> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_connection_with_timeout(Duration::from_secs(2))?;
    redis::cmd("DBSIZE").query::<u64>(&mut connection)?;
    Ok(connection)
}

/// The fields of one `INFO` section, as strings.
pub fn info(
    connection: &mut redis::Connection,
    section: &str,
) -> anyhow::Result<Map<String, Value>> {
    let text: String = redis::cmd("INFO").arg(section).query(connection)?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_string(), json!(v.trim())))
        .collect())
}

/// Calls of each command so far (`INFO commandstats`: commands run by scripts are counted
/// too, each EVALSHA besides), without the bench's own.
pub fn command_calls(connection: &mut redis::Connection) -> anyhow::Result<Map<String, Value>> {
    let mut calls = Map::new();
    for (key, value) in info(connection, "commandstats")? {
        let name = key.trim_start_matches("cmdstat_").to_string();
        if OURS
            .iter()
            .any(|o| name == *o || name.starts_with(&format!("{o}|")))
        {
            continue;
        }
        let count = value
            .as_str()
            .and_then(|v| v.split(',').find_map(|f| f.strip_prefix("calls=")))
            .and_then(|n| n.parse::<u64>().ok())
            .with_context(|| format!("commandstats {key}"))?;
        calls.insert(name, json!(count));
    }
    Ok(calls)
}

/// What Redis holds and has done so far: `used_memory`, `DBSIZE`, the command calls.
pub fn snapshot(connection: &mut redis::Connection) -> anyhow::Result<Value> {
    let memory = info(connection, "memory")?;
    let used: u64 = memory
        .get("used_memory")
        .and_then(Value::as_str)
        .and_then(|v| v.parse().ok())
        .context("used_memory")?;
    let keys: u64 = redis::cmd("DBSIZE").query(connection)?;
    Ok(json!({"used_memory": used, "keys": keys, "calls": command_calls(connection)?}))
}

/// The longest of each kind of event that blocked Redis's event loop for 1 ms or more
/// since the last call (`LATENCY LATEST`, ms), which then starts the record afresh
/// (`LATENCY RESET`).
pub fn stalls(connection: &mut redis::Connection) -> anyhow::Result<Map<String, Value>> {
    let latest: Vec<Vec<redis::Value>> = redis::cmd("LATENCY").arg("LATEST").query(connection)?;
    redis::cmd("LATENCY")
        .arg("RESET")
        .query::<u64>(connection)?;
    let mut stalls = Map::new();
    for event in latest {
        // [name, time of the latest, latest ms, longest ms]
        let name = event.first().map(redis::from_redis_value_ref::<String>);
        let max = event.get(3).map(redis::from_redis_value_ref::<u64>);
        if let (Some(Ok(name)), Some(Ok(max))) = (name, max) {
            stalls.insert(name, json!(max));
        }
    }
    Ok(stalls)
}

/// Each command's calls between two snapshots, and their total.
pub fn calls_between(before: &Value, after: &Value) -> (u64, Map<String, Value>) {
    let mut delta = Map::new();
    let mut total = 0;
    for (name, calls) in after["calls"].as_object().into_iter().flatten() {
        let was = before["calls"][name].as_u64().unwrap_or(0);
        let n = calls.as_u64().unwrap_or(0).saturating_sub(was);
        if n > 0 {
            total += n;
            delta.insert(name.clone(), json!(n));
        }
    }
    (total, delta)
}

/// `MEMORY USAGE` of each key (bytes, 0 when gone), in one round trip.
pub fn memory_usage(
    connection: &mut redis::Connection,
    keys: &[String],
) -> anyhow::Result<Vec<u64>> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("MEMORY").arg("USAGE").arg(key);
    }
    let sizes: Vec<Option<u64>> = pipe.query(connection)?;
    Ok(sizes.into_iter().map(Option::unwrap_or_default).collect())
}

/// How many keys there are of each kind: the part of the name before its second `:`
/// (`sb:ws`, `sb:owner`, `sb:creates`…), by a `SCAN` of the whole key space.
pub fn keys_by_prefix(connection: &mut redis::Connection) -> anyhow::Result<Map<String, Value>> {
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let keys: redis::Iter<String> = redis::cmd("SCAN")
        .cursor_arg(0)
        .arg("COUNT")
        .arg(1000)
        .clone()
        .iter(connection)?;
    for key in keys {
        let key = key?;
        let kind: Vec<&str> = key.splitn(3, ':').take(2).collect();
        *counts.entry(kind.join(":")).or_default() += 1;
    }
    Ok(counts.into_iter().map(|(k, n)| (k, json!(n))).collect())
}
