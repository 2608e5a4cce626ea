//! What Redis holds and does per member of the cluster at rest. Members in workspaces
//! of `capacity` (each made on a node in turn, its other members attending from the
//! other nodes) connect, then stay idle, answering the nodes' pings, for `idle_secs`:
//! the nodes only heart-beat. Read from Redis before the members come, once they are
//! in, and at both ends of the idle time: `used_memory` and `DBSIZE` (their growth per
//! member), `MEMORY USAGE` of each new workspace's keys (`sb:ws:<id>`, `sb:owner:<id>`),
//! and `INFO commandstats` (commands per second, per member and per node).

use crate::client::Client;
use crate::cluster::{Cluster, Options};
use crate::common::{max_connections, Ws};
use crate::connections::hold;
use crate::redis_server::{calls_between, keys_by_prefix, memory_usage, snapshot};
use crate::relay_load::Wire;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub async fn run(options: &Options, cluster: &mut Cluster) -> anyhow::Result<Value> {
    let k = options.common.capacity.max(2);
    let members = (options.idle_members.min(max_connections()) / k * k).max(k);
    let addrs: Vec<SocketAddr> = cluster.nodes.iter().map(|n| n.addr).collect();
    let mut redis = cluster.redis.connection()?;
    let mut empty = snapshot(&mut redis)?;
    empty["kinds"] = json!(keys_by_prefix(&mut redis)?);
    let (held, workspaces) = open(&addrs, members, k, options.concurrency).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut full = snapshot(&mut redis)?;
    full["kinds"] = json!(keys_by_prefix(&mut redis)?);
    let sizes = key_sizes(&mut redis, &workspaces)?;
    let rest = snapshot(&mut redis)?;
    tokio::time::sleep(Duration::from_secs_f64(options.idle_secs)).await;
    let rested = snapshot(&mut redis)?;
    cluster.check_alive()?;
    for task in &held {
        task.abort();
    }
    let mut idle = json!({"members": members, "asked": options.idle_members, "capacity": k,
        "workspaces": workspaces.len(), "seconds": options.idle_secs, "nodes": addrs.len(),
        "before": empty, "after": full, "key_sizes": sizes});
    figures(&mut idle, &rest, &rested);
    print_figures(&idle);
    Ok(idle)
}

/// Growth per member, from the snapshots before and after the members came in; commands
/// per second between `rest` and `rested`.
fn figures(idle: &mut Value, rest: &Value, rested: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let members = f(&idle["members"]);
    let grew = |key: &str| f(&idle["after"][key]) - f(&idle["before"][key]);
    let mut kinds = serde_json::Map::new();
    for (kind, n) in idle["after"]["kinds"].as_object().into_iter().flatten() {
        let added = f(n) - f(&idle["before"]["kinds"][kind]);
        if added != 0.0 {
            kinds.insert(kind.clone(), json!(added));
        }
    }
    let stored = f(&kinds.get("sb:ws").cloned().unwrap_or_default())
        + f(&kinds.get("sb:owner").cloned().unwrap_or_default());
    let sizes = &idle["key_sizes"];
    let key_bytes = f(&sizes["workspace"]["mean_bytes"]) + f(&sizes["owner"]["mean_bytes"]);
    let (commands, calls) = calls_between(rest, rested);
    let per_s = commands as f64 / f(&idle["seconds"]);
    let more = json!({"used_memory_per_member": grew("used_memory") / members,
        "keys_per_member": grew("keys") / members, "keys_added": kinds,
        "workspace_keys_per_member": stored / members,
        "key_bytes_per_member": key_bytes / f(&idle["capacity"]),
        "commands": commands, "calls": calls, "commands_per_s": per_s,
        "commands_per_s_per_member": per_s / members,
        "commands_per_s_per_node": per_s / f(&idle["nodes"])});
    for (key, value) in more.as_object().into_iter().flatten() {
        idle[key] = value.clone();
    }
}

fn print_figures(idle: &Value) {
    let f = |key: &str| idle[key].as_f64().unwrap_or(f64::NAN);
    println!(
        "cluster idle: {} members in {} workspaces: per member {:.0} bytes of its workspace's keys \
         (used_memory {:+.0}), {:.2} workspace keys ({:.2} keys in all: {})",
        idle["members"],
        idle["workspaces"],
        f("key_bytes_per_member"),
        f("used_memory_per_member"),
        f("workspace_keys_per_member"),
        f("keys_per_member"),
        idle["keys_added"]
    );
    println!(
        "cluster idle: at rest {:.1} commands/s ({:.4} per member, {:.1} per node): {}",
        f("commands_per_s"),
        f("commands_per_s_per_member"),
        f("commands_per_s_per_node"),
        idle["calls"]
    );
    println!(
        "cluster idle: MEMORY USAGE per workspace: {}",
        idle["key_sizes"]
    );
}

/// `MEMORY USAGE` of the workspaces' keys: the mean per workspace of each kind.
fn key_sizes(redis: &mut redis::Connection, workspaces: &[String]) -> anyhow::Result<Value> {
    let mut sizes = json!({});
    for (name, prefix) in [("workspace", "sb:ws:"), ("owner", "sb:owner:")] {
        let keys: Vec<String> = workspaces.iter().map(|w| format!("{prefix}{w}")).collect();
        let bytes = memory_usage(redis, &keys)?;
        let found = bytes.iter().filter(|&&b| b > 0).count();
        let mean = bytes.iter().sum::<u64>() as f64 / found.max(1) as f64;
        sizes[name] = json!({"key": format!("{prefix}<id>"), "found": found, "mean_bytes": mean});
    }
    Ok(sizes)
}

/// `n` members in workspaces of `k`, each made on node g and attended from the others in
/// turn, set up `concurrency` workspaces at a time; tasks holding them (reading, which
/// answers pings), and the workspaces' ids.
async fn open(
    addrs: &[SocketAddr],
    n: usize,
    k: usize,
    concurrency: usize,
) -> anyhow::Result<(Vec<JoinHandle<()>>, Vec<String>)> {
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut setups = Vec::new();
    for g in 0..n / k {
        let at: Vec<SocketAddr> = (0..k).map(|i| addrs[(g + i) % addrs.len()]).collect();
        let gate = gate.clone();
        setups.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let owner = Client::create(at[0]).await?;
            let mut sockets: Vec<Ws> = Vec::with_capacity(k);
            for &addr in &at[1..] {
                sockets.push(
                    Client::attend(addr, &owner.invite)
                        .await?
                        .client
                        .into_socket(),
                );
            }
            sockets.push(owner.client.into_socket());
            anyhow::Ok((owner.workspace, sockets))
        }));
    }
    let (mut held, mut workspaces) = (Vec::with_capacity(n), Vec::new());
    for setup in setups {
        let (workspace, sockets) = setup.await??;
        workspaces.push(workspace);
        held.extend(
            sockets
                .into_iter()
                .map(|s| tokio::spawn(hold(s, Wire::Native))),
        );
    }
    Ok((held, workspaces))
}
