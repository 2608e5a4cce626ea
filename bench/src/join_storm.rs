//! Join storm: N clients released at the same instant, each connecting and sending
//! `create` (one in K) or `attend` (the others, to workspaces made beforehand, whose
//! owners have gone offline). Join time: from the release to the reply. Baseline: N
//! clients connecting to the bare relay's `/echo` at once, timed to their first echo.

use crate::client::Client;
use crate::common::{
    connect, histogram, max_connections, percentiles_ms, write_json, Common, ServerProcess, Target,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Args)]
pub struct Options {
    #[command(flatten)]
    common: Common,
    /// Clients released at once.
    #[arg(long, default_value_t = 10000)]
    clients: usize,
    /// Seconds a client may take before it counts as failed.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let k = options.common.capacity.max(2);
    let limit = max_connections();
    let n = options.clients.min(limit);
    if n < options.clients {
        println!(
            "join-storm: {} clients asked, {n} measured (RLIMIT_NOFILE)",
            options.clients
        );
    }
    println!("join-storm: {n} clients at once (1 in {k} creates, the others attend)");
    println!("| server | joined | success | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|");
    let mut out = serde_json::Map::new();
    for target in [Target::Switchboard, Target::Bare] {
        let mut server = ServerProcess::start(target, &options.common)?;
        let figures = storm(&server, n, k, Duration::from_secs_f64(options.timeout)).await?;
        server.check_alive()?;
        println!(
            "| {} | {}/{} | {:.4} | {} | {} | {} |",
            target.name(),
            figures["joined"],
            n,
            figures["success"].as_f64().unwrap_or(0.0),
            figures["p50"],
            figures["p99"],
            figures["max"]
        );
        out.insert(target.name().into(), figures);
    }
    let p99 = |t: &str| out[t]["p99"].as_f64().unwrap_or(0.0);
    println!(
        "join p99 switchboard/bare {:.2}",
        p99("switchboard") / p99("bare")
    );
    write_json(
        options.common.json.as_deref(),
        &json!({"clients": n, "asked": options.clients, "capacity": k,
                "switchboard": out["switchboard"], "bare": out["bare"]}),
    )
}

async fn storm(
    server: &ServerProcess,
    n: usize,
    k: usize,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let addr = server.addr;
    // Invites for the attendees, made beforehand (not timed); the owners then go offline.
    let mut invites: Vec<Value> = Vec::new();
    if server.target == Target::Switchboard {
        let workspaces = n.div_ceil(k);
        let mut made = Vec::new();
        for chunk in (0..workspaces).collect::<Vec<_>>().chunks(256) {
            let mut tasks = Vec::new();
            for _ in chunk {
                tasks.push(tokio::spawn(Client::create(addr)));
            }
            for task in tasks {
                let owner = task.await??;
                invites.push(owner.invite.clone());
                made.push(owner.client);
            }
        }
        for client in made {
            client.close().await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (go, ready) = watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let mut ready = ready.clone();
        let target = server.target;
        let invite = invites.get(i / k).cloned().unwrap_or(Value::Null);
        let creates = i % k == 0;
        tasks.push(tokio::spawn(async move {
            let _ = ready.wait_for(|t| t.is_some()).await;
            let t0 = (*ready.borrow()).expect("released");
            let joined = tokio::time::timeout(timeout, async {
                match target {
                    Target::Switchboard if creates => {
                        Client::create(addr).await.map(|m| m.client.into_socket())
                    }
                    Target::Switchboard => Client::attend(addr, &invite)
                        .await
                        .map(|m| m.client.into_socket()),
                    Target::Bare => {
                        let mut ws = connect(addr, "/echo").await?;
                        ws.send(Message::text("hello")).await?;
                        match ws.next().await {
                            Some(Ok(_)) => Ok(ws),
                            _ => anyhow::bail!("no echo"),
                        }
                    }
                }
            })
            .await;
            match joined {
                Ok(Ok(socket)) => Ok((t0.elapsed(), socket)),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_string()),
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    go.send(Some(Instant::now()))?;
    let mut latency = histogram();
    let mut joined = 0usize;
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    let mut sockets = Vec::new();
    for task in tasks {
        match task.await? {
            Ok((took, socket)) => {
                joined += 1;
                latency.record((took.as_micros() as u64).max(1))?;
                sockets.push(socket);
            }
            Err(e) => *errors.entry(e.chars().take(80).collect()).or_default() += 1,
        }
    }
    for (error, count) in &errors {
        println!("  {} failures: {count} x {error}", server.target.name());
    }
    drop(sockets);
    let mut figures = percentiles_ms(&latency);
    figures["joined"] = json!(joined);
    figures["success"] = json!(joined as f64 / n as f64);
    figures["errors"] = json!(errors);
    Ok(figures)
}
