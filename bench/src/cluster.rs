//! cluster: three Switchboard nodes sharing one `redis-server` (docs/cluster.md), on this
//! machine, against one node without Redis, in the same run:
//! - relay (cluster_relay): pairs of native members whose workspace another node owns,
//!   both ends on one node ("same node") or on two others ("cross node"): closed-loop
//!   msgs/s (three nodes' total against one node's), then an open loop at one rate with
//!   p50/p99/p99.9 from the scheduled send; Redis's commands and PUBLISHes per relayed
//!   message, and the CPU the nodes and Redis use per message;
//! - join storm (cluster_storm): creates, attends to workspaces other nodes own, and
//!   re-attends on yet another node, all released at once;
//! - idle members (cluster_idle): what Redis holds and does per member at rest.
//!
//! Every node runs on the same cores as the others, Redis and the load generator: on a
//! small machine, several nodes measure contention and the cost of the bus, not scaling.

use crate::client::{Client, Member};
use crate::common::{switchboard_config, write_json, Common, ServerProcess};
use crate::redis_server::RedisServer;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    pub common: Common,
    /// The redis-server binary.
    #[arg(long, default_value = "redis-server")]
    pub redis_server: PathBuf,
    /// Nodes of the cluster (at least 3, so that a cross-node pair has an owner apart).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// `[cluster] heartbeat_secs` of every node.
    #[arg(long, default_value_t = 2)]
    pub heartbeat_secs: u64,
    /// Pair counts for the closed loop, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    pub pairs: Vec<usize>,
    /// Messages in flight per direction in the closed loop.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// Seconds measured per closed-loop step (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Pairs for the open loop.
    #[arg(long, default_value_t = 64)]
    pub open_pairs: usize,
    /// Open-loop rate, messages/s in total.
    #[arg(long, default_value_t = 20000.0)]
    pub rate: f64,
    /// Seconds measured in the open loop.
    #[arg(long, default_value_t = 5.0)]
    pub open_duration: f64,
    /// Clients of the join storm, released at once.
    #[arg(long, default_value_t = 5000)]
    pub storm_clients: usize,
    /// Seconds a storm client may take before it counts as failed.
    #[arg(long, default_value_t = 30.0)]
    pub storm_timeout: f64,
    /// Idle members for Redis's cost per member.
    #[arg(long, default_value_t = 3000)]
    pub idle_members: usize,
    /// Seconds the idle members stay idle while Redis's commands are counted.
    #[arg(long, default_value_t = 10.0)]
    pub idle_secs: f64,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

/// Where the members of the relay's pairs are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// One node, no Redis: the baseline.
    Single,
    /// Both ends on one node, the workspace owned by another.
    SameNode,
    /// The ends on two nodes, the workspace owned by a third.
    CrossNode,
}

impl Layout {
    pub const ALL: [Layout; 3] = [Layout::Single, Layout::SameNode, Layout::CrossNode];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Single => "single",
            Layout::SameNode => "same",
            Layout::CrossNode => "cross",
        }
    }
}

/// Redis, the cluster's nodes and the single node, all started at once. Nodes stop
/// before Redis (fields drop in order), so that they do not log its going away.
pub struct Cluster {
    pub nodes: Vec<ServerProcess>,
    pub single: ServerProcess,
    pub redis: RedisServer,
}

impl Cluster {
    pub fn start(options: &Options) -> anyhow::Result<Cluster> {
        anyhow::ensure!(options.nodes >= 3, "--nodes must be at least 3");
        let redis = RedisServer::start(&options.redis_server)?;
        let common = &options.common;
        let mut nodes = Vec::new();
        for n in 0..options.nodes {
            let config = node_config(options, &redis.url, n);
            nodes.push(ServerProcess::switchboard(
                &common.switchboard_bin,
                &config,
            )?);
        }
        let single = ServerProcess::switchboard(
            &common.switchboard_bin,
            &switchboard_config(common.capacity),
        )?;
        Ok(Cluster {
            nodes,
            single,
            redis,
        })
    }

    /// The addresses a layout's pair `k` uses: the owner's node, then each end's.
    pub fn placement(&self, layout: Layout, k: usize) -> [SocketAddr; 3] {
        let n = self.nodes.len();
        let at = |i: usize| self.nodes[i % n].addr;
        match layout {
            Layout::Single => [self.single.addr; 3],
            Layout::SameNode => [at(k), at(k + 1), at(k + 1)],
            Layout::CrossNode => [at(k), at(k + 1), at(k + 2)],
        }
    }

    /// The processes a layout's figures count the CPU of.
    pub fn pids(&self, layout: Layout) -> Vec<u32> {
        match layout {
            Layout::Single => vec![self.single.pid()],
            Layout::SameNode | Layout::CrossNode => self.nodes.iter().map(|n| n.pid()).collect(),
        }
    }

    /// Fails when any of them has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for node in self.nodes.iter_mut() {
            node.check_alive()?;
        }
        self.single.check_alive()?;
        self.redis.check_alive()
    }

    /// Each server's log lines at WARN and ERROR.
    fn alerts(&self) -> Value {
        let mut out = serde_json::Map::new();
        let named = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("node-{i}"), n));
        for (name, server) in named.chain([("single".to_string(), &self.single)]) {
            let alerts = server.alerts();
            out.insert(name, json!({"count": alerts.count, "first": alerts.first}));
        }
        json!(out)
    }
}

/// A node of the cluster: the bench's usual configuration (limits lifted), Redis storage.
fn node_config(options: &Options, redis_url: &str, n: usize) -> String {
    let base = switchboard_config(options.common.capacity)
        .replace(r#"backend = "memory""#, r#"backend = "redis""#);
    format!(
        "{base}\n[cluster]\nredis_url = \"{redis_url}\"\nnode_id = \"node-{n}\"\nheartbeat_secs = {}\n",
        options.heartbeat_secs
    )
}

/// A workspace made by a member on `owner` (whose node then owns it), and one member
/// attending it at each of `ends`; each end has seen the other join, so that its node
/// knows where the other is before anything is sent. The owner stays connected.
pub async fn members(owner: SocketAddr, ends: [SocketAddr; 2]) -> anyhow::Result<[Member; 3]> {
    let creator = Client::create(owner).await?;
    let mut a = Client::attend(ends[0], &creator.invite).await?;
    let b = Client::attend(ends[1], &creator.invite).await?;
    let b_id = b.attendee.clone();
    let joined = a
        .client
        .wait_push("attendee-joined", |d| d["attendee"]["id"] == b_id.as_str());
    tokio::time::timeout(std::time::Duration::from_secs(10), joined)
        .await
        .map_err(|_| {
            anyhow::anyhow!("no attendee-joined for the pair's second end within 10 s")
        })??;
    Ok([creator, a, b])
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let mut cluster = Cluster::start(&options)?;
    println!(
        "cluster: {} nodes on one redis-server (appendfsync always), and one node alone, on {} cores",
        options.nodes,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let relay = crate::cluster_relay::run(&options, &mut cluster).await?;
    let storm = crate::cluster_storm::run(&options, &mut cluster).await?;
    let idle = crate::cluster_idle::run(&options, &mut cluster).await?;
    cluster.check_alive()?;
    let alerts = cluster.alerts();
    println!("cluster: log lines at WARN or ERROR: {alerts}");
    let version = redis_version(&cluster.redis);
    write_json(
        options.common.json.as_deref(),
        &json!({"nodes": options.nodes, "heartbeat_secs": options.heartbeat_secs,
                "capacity": options.common.capacity, "redis_version": version,
                "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
                "relay": relay, "storm": storm, "idle": idle, "alerts": alerts}),
    )
}

fn redis_version(redis: &RedisServer) -> Value {
    let mut connection = match redis.connection() {
        Ok(c) => c,
        Err(_) => return Value::Null,
    };
    crate::redis_server::info(&mut connection, "server")
        .ok()
        .and_then(|m| m.get("redis_version").cloned())
        .unwrap_or(Value::Null)
}
