//! What durability costs. Concurrent clients each create a workspace and have a second
//! connection attend it; both replies are acknowledgements that the server must have
//! on disk with sled, and in memory only with the memory backend. Same run, same
//! machine: the ratio is the figure to read.

use crate::client::Client;
use crate::server::Server;
use serde_json::json;
use std::time::{Duration, Instant};
use switchboard::config::StorageBackend;

#[derive(clap::Args)]
pub struct Options {
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// create+attend pairs per client.
    #[arg(long, default_value_t = 50)]
    pairs: usize,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    println!(
        "store: {} clients x {} create+attend pairs, server on 1 worker",
        options.clients, options.pairs
    );
    let memory = measure(StorageBackend::Memory, &options).await?;
    let sled = measure(StorageBackend::Sled, &options).await?;
    let rate = |d: Duration| (options.clients * options.pairs) as f64 / d.as_secs_f64();
    println!("| backend | pairs/s |\n|---|---|");
    println!("| memory | {:.0} |", rate(memory));
    println!("| sled | {:.0} |", rate(sled));
    println!("sled / memory = {:.2}", rate(sled) / rate(memory));
    Ok(())
}

async fn measure(backend: StorageBackend, options: &Options) -> anyhow::Result<Duration> {
    let server = Server::start(backend)?;
    let url = server.ws_url();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..options.clients {
        let (url, pairs) = (url.clone(), options.pairs);
        tasks.push(tokio::spawn(async move { pairs_loop(&url, pairs).await }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

async fn pairs_loop(url: &str, pairs: usize) -> anyhow::Result<()> {
    for _ in 0..pairs {
        let mut owner = Client::connect(url).await?;
        let created = owner.request("create", json!({"name": "bench"})).await?;
        let mut guest = Client::connect(url).await?;
        let invite = created["workspace"]["invite"].clone();
        guest
            .request("attend", json!({"invite": invite, "name": "guest"}))
            .await?;
        guest.close().await;
        owner.close().await;
    }
    Ok(())
}
