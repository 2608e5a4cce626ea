//! `switchboard-bench`: measures Switchboard from the outside, over real WebSockets,
//! against baselines run in the same process and the same run.

mod actix_echo;
mod attacks;
mod bare;
mod bars;
mod charts;
mod churn;
mod client;
mod cluster;
mod cluster_idle;
mod cluster_relay;
mod cluster_storm;
mod common;
mod connections;
mod entrance;
mod foglet;
mod heap;
mod heap_sites;
mod hostile;
mod join_storm;
mod raw;
mod redis_server;
mod relay;
mod relay_load;
mod relay_wire;
mod report;
mod report_attacks;
mod report_charts;
mod report_cluster;
mod report_cluster_summary;
mod report_connections;
mod report_foglet;
mod report_heap;
mod report_only;
mod report_scale;
mod report_signal_fire;
mod report_socketio;
mod server;
mod signal_fire;
mod sio;
mod socketio;
mod store;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Switchboard load generator and benchmarks")]
struct Args {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// What durability costs: create+attend pairs per second, sled against memory.
    Store(store::Options),
    /// The baseline server: pairs WebSockets and forwards frames, nothing else.
    BareRelay(bare::Options),
    /// The idle-connection baseline on Switchboard's own stack: an actix-ws echo server.
    ActixEcho(actix_echo::Options),
    /// Server RSS per idle attendee, against the bare relay's and the actix-ws echo
    /// server's per idle connection.
    Connections(connections::Options),
    /// icecandidate relay: max msgs/s (closed loop), latency at a rate (open loop), latency
    /// at low concurrency.
    Relay(relay::Options),
    /// N clients joining at once: success rate and join time.
    JoinStorm(join_storm::Options),
    /// connect/attend/leave cycles per second.
    Churn(churn::Options),
    /// Switchboard's signal-fire endpoint against signal-fire 0.5.3 (node) and the bare
    /// relay: msgs/s, CPU per message, latency, RSS per idle peer.
    SignalFire(signal_fire::Options),
    /// Switchboard's Socket.IO endpoint against its native protocol: relayed msgs/s,
    /// CPU per message, latency, RSS per idle member.
    Socketio(socketio::Options),
    /// Switchboard's Socket.IO entrance events against foglet-signaling-server 1.0.3
    /// (node): forwarded msgs/s, CPU per forwarded message, RSS per idle socket.
    Foglet(foglet::Options),
    /// Three nodes on one redis-server against one node alone: relay msgs/s and latency
    /// on the same node and across nodes, a join storm, Redis's cost per member.
    Cluster(cluster::Options),
    /// Heap bytes per idle member by what holds them, from a heaptrack run of a
    /// Switchboard built with the `system-allocator` feature.
    Heap(heap::Options),
    /// Hostile clients against Switchboard binaries: peak RSS, RSS after, connection ended.
    Attacks(attacks::Options),
    /// Writes BENCHMARKS.md and the charts from the scenarios' JSON files.
    Report(report::Options),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The server's own logs, when asked for (RUST_LOG=info).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    if let Scenario::Report(options) = args.scenario {
        return report::run(options);
    }
    common::raise_nofile();
    // actix-web runs its own runtime (an actix System and a thread per worker).
    if let Scenario::ActixEcho(options) = args.scenario {
        return actix_echo::run(options);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.scenario {
            Scenario::Store(options) => store::run(options).await,
            Scenario::BareRelay(options) => bare::run(options).await,
            Scenario::Connections(options) => connections::run(options).await,
            Scenario::Relay(options) => relay::run(options).await,
            Scenario::JoinStorm(options) => join_storm::run(options).await,
            Scenario::Churn(options) => churn::run(options).await,
            Scenario::Attacks(options) => attacks::run(options).await,
            Scenario::SignalFire(options) => signal_fire::run(options).await,
            Scenario::Socketio(options) => socketio::run(options).await,
            Scenario::Foglet(options) => foglet::run(options).await,
            Scenario::Cluster(options) => cluster::run(options).await,
            Scenario::Heap(options) => heap::run(options).await,
            Scenario::Report(_) | Scenario::ActixEcho(_) => unreachable!(),
        }
    })
}
