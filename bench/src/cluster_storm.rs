//! The cluster's join storm: N clients released at one instant, against the single node
//! and then against the cluster. In each group of `capacity` clients, one `create`s a
//! workspace (on the group's node, in turn); the others join a workspace made
//! beforehand by a member of that node, who went offline: half `attend` it with its
//! invite on another node, half `re-attend` with a session token on a third node (they
//! attended it beforehand there and went offline). On the single node everything
//! happens on that node. Join time: from the release to the reply.

use crate::client::{Client, Member};
use crate::cluster::{Cluster, Options};
use crate::common::{histogram, max_connections, percentiles_ms};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;

/// What one client of the storm does.
#[derive(Clone)]
enum Job {
    Create(SocketAddr),
    Attend(SocketAddr, Value),
    ReAttend(SocketAddr, String),
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::Create(_) => "create",
            Job::Attend(..) => "attend",
            Job::ReAttend(..) => "re-attend",
        }
    }

    async fn run(self) -> anyhow::Result<Client> {
        let member = match self {
            Job::Create(addr) => Client::create(addr).await?,
            Job::Attend(addr, invite) => Client::attend(addr, &invite).await?,
            Job::ReAttend(addr, token) => Client::re_attend(addr, &token).await?,
        };
        Ok(member.client)
    }
}

pub async fn run(options: &Options, cluster: &mut Cluster) -> anyhow::Result<Value> {
    let k = options.common.capacity.max(3);
    let n = options.storm_clients.min(max_connections()) / k * k;
    println!("cluster join storm: {n} clients at once; in each {k}, 1 creates, the others attend or re-attend");
    println!(
        "| servers | joined | p50 ms | p99 ms | max ms | create p99 | attend p99 | re-attend p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut out = json!({"clients": n, "asked": options.storm_clients, "capacity": k});
    for (name, single) in [("single", true), ("cluster", false)] {
        let addrs: Vec<SocketAddr> = match single {
            true => vec![cluster.single.addr],
            false => cluster.nodes.iter().map(|s| s.addr).collect(),
        };
        let started = std::time::Instant::now();
        let jobs = prepare(&addrs, n, k, options.concurrency).await?;
        let prepared = started.elapsed().as_secs_f64();
        let timeout = Duration::from_secs_f64(options.storm_timeout);
        let mut figures = storm(jobs, timeout).await?;
        cluster.check_alive()?;
        figures["prepare_seconds"] = json!(prepared);
        print_row(name, n, &figures);
        out[name] = figures;
    }
    Ok(out)
}

fn print_row(name: &str, n: usize, figures: &Value) {
    let p99 = |kind: &str| figures["kinds"][kind]["p99"].as_f64().unwrap_or(f64::NAN);
    println!(
        "| {name} | {}/{n} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
        figures["joined"],
        figures["p50"],
        figures["p99"],
        figures["max"],
        p99("create"),
        p99("attend"),
        p99("re-attend")
    );
    for (error, count) in figures["errors"].as_object().into_iter().flatten() {
        println!("  {name} failures: {count} x {error}");
    }
}

/// The storm's jobs, in the order of its clients: the workspaces and the memberships to
/// re-attend are made here (not timed), `concurrency` at a time; their members go offline.
async fn prepare(
    addrs: &[SocketAddr],
    n: usize,
    k: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<Job>> {
    let at = |i: usize| addrs[i % addrs.len()];
    let gate = Arc::new(Semaphore::new(concurrency.max(1)));
    let groups = n / k;
    let invites = gated(&gate, (0..groups).map(|g| Client::create(at(g)))).await?;
    let invites: Vec<Value> = invites.into_iter().map(|(invite, _)| invite).collect();
    // Group g's workspace is owned by node g; its attends go to g + 2, re-attends to g + 1,
    // the latter having attended on g + 2 beforehand.
    let returning = (0..groups).flat_map(|g| (2..k).step_by(2).map(move |i| (g, i)));
    let returning: Vec<(usize, usize)> = returning.collect();
    let attended = returning.iter().map(|&(g, _)| {
        let (addr, invite) = (at(g + 2), invites[g].clone());
        async move { Client::attend(addr, &invite).await }
    });
    let made = gated(&gate, attended)
        .await?
        .into_iter()
        .map(|(_, token)| token);
    let tokens: BTreeMap<(usize, usize), String> = returning.into_iter().zip(made).collect();
    // The members made here go offline before the storm, so that their owners'
    // nodes have marked them offline when it starts.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let job = |g: usize, i: usize| match (i, tokens.get(&(g, i))) {
        (0, _) => Job::Create(at(g)),
        (_, Some(token)) => Job::ReAttend(at(g + 1), token.clone()),
        (_, None) => Job::Attend(at(g + 2), invites[g].clone()),
    };
    Ok((0..groups)
        .flat_map(|g| (0..k).map(move |i| (g, i)))
        .map(|(g, i)| job(g, i))
        .collect())
}

/// Runs every future, `gate` at a time; the invite and session token of each member, in
/// order, once it has closed its connection.
async fn gated<F>(
    gate: &Arc<Semaphore>,
    futures: impl Iterator<Item = F>,
) -> anyhow::Result<Vec<(Value, String)>>
where
    F: std::future::Future<Output = anyhow::Result<Member>> + Send + 'static,
{
    let mut tasks = Vec::new();
    for future in futures {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await?;
            let Member {
                client,
                invite,
                token,
                ..
            } = future.await?;
            client.close().await;
            Ok::<_, anyhow::Error>((invite, token))
        }));
    }
    let mut made = Vec::with_capacity(tasks.len());
    for task in tasks {
        made.push(task.await??);
    }
    Ok(made)
}

/// Releases every job at one instant; join times overall and per kind, and failures.
async fn storm(jobs: Vec<Job>, timeout: Duration) -> anyhow::Result<Value> {
    let n = jobs.len();
    let (go, ready) = watch::channel(None::<Instant>);
    let mut tasks = Vec::with_capacity(n);
    for job in jobs {
        let mut ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let _ = ready.wait_for(|t| t.is_some()).await;
            let t0 = (*ready.borrow()).expect("released");
            let kind = job.kind();
            match tokio::time::timeout(timeout, job.run()).await {
                Ok(Ok(client)) => (kind, Ok((t0.elapsed(), client))),
                Ok(Err(e)) => (kind, Err(e.to_string())),
                Err(_) => (kind, Err("timed out".to_string())),
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    go.send(Some(Instant::now()))?;
    let mut tally = Tally::default();
    for task in tasks {
        let (kind, result) = task.await?;
        tally.add(kind, result)?;
    }
    Ok(tally.figures(n))
}

/// The storm's outcome as it comes in; the clients that joined stay connected until
/// every client has had its answer.
#[derive(Default)]
struct Tally {
    all: Option<Histogram<u64>>,
    kinds: BTreeMap<&'static str, Histogram<u64>>,
    errors: BTreeMap<String, usize>,
    joined: Vec<Client>,
}

impl Tally {
    fn add(
        &mut self,
        kind: &'static str,
        result: Result<(Duration, Client), String>,
    ) -> anyhow::Result<()> {
        match result {
            Ok((took, client)) => {
                let us = (took.as_micros() as u64).max(1);
                self.all.get_or_insert_with(histogram).record(us)?;
                self.kinds
                    .entry(kind)
                    .or_insert_with(histogram)
                    .record(us)?;
                self.joined.push(client);
            }
            Err(e) => {
                let key = format!("{kind}: {}", e.chars().take(80).collect::<String>());
                *self.errors.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }

    fn figures(self, n: usize) -> Value {
        let mut figures = percentiles_ms(&self.all.unwrap_or_else(histogram));
        figures["joined"] = json!(self.joined.len());
        figures["success"] = json!(self.joined.len() as f64 / n.max(1) as f64);
        figures["errors"] = json!(self.errors);
        let kinds: serde_json::Map<String, Value> = self
            .kinds
            .iter()
            .map(|(kind, h)| (kind.to_string(), percentiles_ms(h)))
            .collect();
        figures["kinds"] = json!(kinds);
        figures
    }
}
