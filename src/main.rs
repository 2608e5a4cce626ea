//! The `switchboard` binary: read settings, start logging, serve until a signal.

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard::config::{self, Env};

// jemalloc rather than glibc's malloc: a relayed message allocates and frees a few small
// buffers on one worker thread and frees others that came from another; glibc spends a
// tenth of the relay's CPU time in that (its chunk consolidation), jemalloc's thread
// caches far less. Measured in BENCHMARKS.md. The `system-allocator` feature keeps
// glibc's, for heap profilers that watch malloc (heaptrack).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(version, about = "Self-hosted WebRTC signaling server")]
struct Args {
    /// Settings file; ./config.toml when present, else built-in defaults.
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
    /// Overrides server.host.
    #[arg(long)]
    host: Option<String>,
    /// Overrides server.port (0 picks a free port).
    #[arg(long)]
    port: Option<u16>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::Error::from(e).context("cannot start the runtime")),
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// An operator wants the reason, not a backtrace.
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("switchboard: {error:#}");
    ExitCode::FAILURE
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let env = Env::from_process()?;
    let mut config = config::load(args.config.as_deref(), &env)?;
    if let Some(host) = args.host {
        config.server.host = Some(host);
    }
    if let Some(port) = args.port {
        config.server.port = port;
    }
    if let Some(Command::ImportJson {
        file,
        pin,
        base_url,
    }) = args.command
    {
        let _logs = switchboard::telemetry::init(true);
        let options = switchboard::import::Options {
            pin: pin.as_deref(),
            base_url: base_url.as_deref(),
        };
        let report = switchboard::import::import_json(&config, &file, options).await?;
        for line in report.lines {
            println!("{line}");
        }
        return Ok(());
    }
    if let Some(Command::Admin { url, command }) = args.command {
        let url = url.unwrap_or_else(|| local_url(&config));
        let token = config.secrets.admin.as_ref().map(|t| t.expose());
        let answer = switchboard::cli::admin::call(&url, token, command).await?;
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    let _logs = switchboard::telemetry::init(config.server.development);

    let (host, port) = config.bind_addr();
    let listener = std::net::TcpListener::bind((host.as_str(), port))
        .with_context(|| format!("cannot listen on {host}:{port}"))?;
    switchboard::server::run_with_drain(config, listener, shutdown_signal(), drain_signal())
        .await?;
    Ok(())
}

/// Where this configuration's server listens, as the admin command reaches it.
fn local_url(config: &config::Config) -> String {
    let (host, port) = config.bind_addr();
    let host = match host.as_str() {
        "0.0.0.0" | "::" => "127.0.0.1".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    let scheme = if config.tls.enabled { "https" } else { "http" };
    format!("{scheme}://{host}:{port}")
}

#[derive(Subcommand)]
enum Command {
    /// Imports the storage file of a Node.js webRTCWorkspaces server into the store.
    ImportJson {
        /// Its `json_storage_file`.
        file: PathBuf,
        /// Protects every imported workspace with this PIN.
        #[arg(long)]
        pin: Option<String>,
        /// The demo app's public address, which the printed links open (default: built
        /// from the config: https when TLS is on, the host and port).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
    },
    /// Calls the admin API of a running server, with ADMIN_TOKEN from the environment
    /// or .env.
    Admin {
        /// The server; default: where this configuration listens.
        #[arg(long)]
        url: Option<String>,
        #[command(subcommand)]
        command: switchboard::cli::admin::AdminCommand,
    },
}

/// Resolves on SIGUSR1, the operator's "drain this node"; never elsewhere.
async fn drain_signal() {
    #[cfg(unix)]
    {
        let mut usr1 =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
                .expect("installing a SIGUSR1 handler cannot fail on unix");
        usr1.recv().await;
        return;
    }
    #[allow(
        unreachable_code,
        reason = "without unix signals there is no drain signal"
    )]
    std::future::pending().await
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler cannot fail on unix");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
