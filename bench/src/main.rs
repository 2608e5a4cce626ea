//! `switchboard-bench`: measures Switchboard from the outside, over real WebSockets,
//! against baselines run in the same process and the same run.

mod client;
mod server;
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match args.scenario {
            Scenario::Store(options) => store::run(options).await,
        }
    })
}
