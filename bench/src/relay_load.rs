//! The relay's traffic: pairs of members (or of bare-relay sockets, or of signal-fire
//! peers) sending each other candidates both ways at once, paced by a window or by a
//! schedule, with the send time in the payload so that latency is measured where each
//! frame arrives.

use crate::common::{cpu_seconds_of, histogram, now_us, us_at, Ws};
pub use crate::relay_wire::Wire;
use crate::relay_wire::{frame, pair, parse_ts, End};
use crate::sio;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// How senders are paced.
#[derive(Clone, Copy)]
pub enum Mode {
    /// `window` frames in flight per direction; one more as each arrives at its target.
    Closed { window: usize },
    /// `window` requests outstanding per sender; one more as each `sent` reply comes back
    /// to the sender (what a client waiting on its replies does).
    Replies { window: usize },
    /// One frame per `interval` per direction, whatever happens to the others.
    Open { interval: Duration },
}

/// How a `sent {}` reply starts (the bare relay's `?ack` sends the same).
const SENT: &str = r#"{"event":"sent""#;

pub struct Outcome {
    pub received: u64,
    pub seconds: f64,
    pub latency: Histogram<u64>,
    /// CPU time the server used within the measured window, when asked for.
    pub cpu_seconds: Option<f64>,
    /// What the probe read when the window opened and when it closed, when one was given.
    pub probed: Option<(Value, Value)>,
}

/// Something read when the measured window opens and when it closes: CPU times,
/// Redis's counters.
pub type Probe = Arc<dyn Fn() -> Value + Send + Sync>;

impl Outcome {
    /// Frames that arrived per second of the measured window.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.seconds
    }
}

/// Runs `pairs` pairs in `mode` for `duration` (after a warm-up) and collects what
/// arrived within it; with `cpu_of`, also the CPU time that process used within it.
pub async fn measure(
    wire: impl Into<Wire>,
    addr: SocketAddr,
    pairs: usize,
    mode: Mode,
    duration: Duration,
    cpu_of: Option<u32>,
) -> anyhow::Result<Outcome> {
    let ends = connect_pairs(
        wire.into(),
        addr,
        pairs,
        matches!(mode, Mode::Replies { .. }),
    )
    .await?;
    let probe = cpu_of.map(|pid| -> Probe { Arc::new(move || json!(cpu_seconds_of(pid).ok())) });
    let mut outcome = measure_pairs(ends, mode, duration, probe).await?;
    outcome.cpu_seconds = outcome
        .probed
        .as_ref()
        .and_then(|(before, after)| Some(after.as_f64()? - before.as_f64()?));
    Ok(outcome)
}

/// Runs pairs already connected (however they were paired) in `mode` for `duration`
/// (after a warm-up) and collects what arrived within it; with `probe`, also what it
/// reads when the measured window opens and when it closes.
pub async fn measure_pairs(
    ends: Vec<(End, End)>,
    mode: Mode,
    duration: Duration,
    probe: Option<Probe>,
) -> anyhow::Result<Outcome> {
    let pairs = ends.len().max(1);
    let warmup = match mode {
        Mode::Closed { .. } | Mode::Replies { .. } => duration / 5,
        Mode::Open { .. } => Duration::from_millis(500),
    };
    let start = Instant::now() + warmup;
    let run = Run {
        mode,
        end: start + duration,
        window_us: (
            us_at(start.into_std()),
            us_at((start + duration).into_std()),
        ),
        received: Arc::new(AtomicU64::new(0)),
    };
    let probed = probe_window(probe, start, run.end);
    let mut tasks = Tasks::default();
    for (n, (a, b)) in ends.into_iter().enumerate() {
        // Spread the open-loop schedules over one interval.
        let offset = run.interval().mul_f64((n as f64 / pairs as f64).fract());
        run.spawn_pair(a, b, offset, &mut tasks);
    }
    let latency = tasks.finish().await?;
    let probed = probed.await?;
    // Lets the server finish its disconnects before the next step.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(Outcome {
        received: run.received.load(Ordering::Relaxed),
        seconds: duration.as_secs_f64(),
        latency,
        cpu_seconds: None,
        probed,
    })
}

/// `pairs` pairs, set up all at once.
async fn connect_pairs(
    wire: Wire,
    addr: SocketAddr,
    pairs: usize,
    acks: bool,
) -> anyhow::Result<Vec<(End, End)>> {
    let mut setups = Vec::new();
    for key in 0..pairs {
        setups.push(tokio::spawn(pair(wire, addr, key, acks)));
    }
    let mut ends = Vec::with_capacity(pairs);
    for setup in setups {
        ends.push(setup.await??);
    }
    Ok(ends)
}

/// What `probe` reads at `start` and at `end`, on a blocking thread each time, so that
/// no client work delays the reads and no slow read delays a client.
fn probe_window(
    probe: Option<Probe>,
    start: Instant,
    end: Instant,
) -> tokio::task::JoinHandle<Option<(Value, Value)>> {
    tokio::spawn(async move {
        let probe = probe?;
        tokio::time::sleep_until(start).await;
        let before = tokio::task::spawn_blocking({
            let probe = probe.clone();
            move || probe()
        });
        let before = before.await.ok()?;
        tokio::time::sleep_until(end).await;
        let after = tokio::task::spawn_blocking(move || probe()).await.ok()?;
        Some((before, after))
    })
}

/// One measurement's settings, shared by its writers and readers.
struct Run {
    mode: Mode,
    /// Writers stop here.
    end: Instant,
    /// Frames sent within this window (µs, on the `now_us` clock) are counted.
    window_us: (u64, u64),
    received: Arc<AtomicU64>,
}

#[derive(Default)]
struct Tasks {
    writers: Vec<tokio::task::JoinHandle<anyhow::Result<SplitSink<Ws, Message>>>>,
    readers: Vec<tokio::task::JoinHandle<(Histogram<u64>, SplitStream<Ws>)>>,
}

impl Tasks {
    /// Waits for every reader, then closes what the writers leave; the latencies of all.
    async fn finish(self) -> anyhow::Result<Histogram<u64>> {
        let mut latency = histogram();
        let mut halves = Vec::new();
        for reader in self.readers {
            let (h, stream) = reader.await?;
            latency.add(&h)?;
            halves.push(stream);
        }
        for writer in self.writers {
            if let Ok(Ok(mut sink)) = writer.await {
                let _ = tokio::time::timeout(Duration::from_millis(200), sink.close()).await;
            }
        }
        Ok(latency)
    }
}

impl Run {
    fn interval(&self) -> Duration {
        match self.mode {
            Mode::Open { interval } => interval,
            Mode::Closed { .. } | Mode::Replies { .. } => Duration::ZERO,
        }
    }

    fn window(&self) -> usize {
        match self.mode {
            Mode::Closed { window } | Mode::Replies { window } => window,
            Mode::Open { .. } => 0,
        }
    }

    /// a -> b and b -> a. A writer's window is refilled by its partner's reader when
    /// frames arrive (closed loop), or by its own reader when replies do.
    fn spawn_pair(&self, a: End, b: End, offset: Duration, tasks: &mut Tasks) {
        let (a_sink, a_stream) = a.socket.split();
        let (b_sink, b_stream) = b.socket.split();
        let ab = Arc::new(Semaphore::new(self.window()));
        let ba = Arc::new(Semaphore::new(self.window()));
        let first = Instant::now() + offset;
        let interval = match self.mode {
            Mode::Open { interval } => Some(interval),
            _ => None,
        };
        let pace = |window: &Arc<Semaphore>, first| Pace {
            window: window.clone(),
            interval,
            first,
            end: self.end,
        };
        tasks
            .writers
            .push(tokio::spawn(write(a_sink, a.wire, a.to, pace(&ab, first))));
        tasks.writers.push(tokio::spawn(write(
            b_sink,
            b.wire,
            b.to,
            pace(&ba, first + self.interval() / 2),
        )));
        let (b_refills, a_refills) = match self.mode {
            Mode::Replies { .. } => (ba, ab),
            Mode::Closed { .. } | Mode::Open { .. } => (ab, ba),
        };
        tasks
            .readers
            .push(tokio::spawn(self.read(b_stream, b_refills)));
        tasks
            .readers
            .push(tokio::spawn(self.read(a_stream, a_refills)));
    }

    /// Receives until the end (plus 2 s in the open loop, for the late ones); counts and
    /// times the frames sent within the window; refills `window` for each frame that
    /// arrives (closed loop) or each `sent` reply (replies).
    fn read(
        &self,
        mut stream: SplitStream<Ws>,
        window: Arc<Semaphore>,
    ) -> impl std::future::Future<Output = (Histogram<u64>, SplitStream<Ws>)> {
        let (mode, received, (start_us, end_us)) =
            (self.mode, self.received.clone(), self.window_us);
        let stop = match mode {
            Mode::Open { .. } => self.end + Duration::from_secs(2),
            Mode::Closed { .. } | Mode::Replies { .. } => self.end,
        };
        async move {
            let mut latency = histogram();
            while let Ok(Some(Ok(message))) = tokio::time::timeout_at(stop, stream.next()).await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Some(ts) = parse_ts(&text) else {
                    if matches!(mode, Mode::Replies { .. }) && text.starts_with(SENT) {
                        window.add_permits(1);
                    }
                    continue;
                };
                if matches!(mode, Mode::Closed { .. }) {
                    window.add_permits(1);
                }
                let now = now_us();
                if ts >= start_us && ts < end_us && now < end_us.max(ts) + 2_000_000 {
                    received.fetch_add(1, Ordering::Relaxed);
                    let _ = latency.record(now.saturating_sub(ts).max(1));
                }
            }
            (latency, stream)
        }
    }
}

/// When a writer sends: as its window allows, or on a schedule from `first`.
struct Pace {
    window: Arc<Semaphore>,
    interval: Option<Duration>,
    first: Instant,
    end: Instant,
}

/// Sends to `to`, in the envelope of `wire`, until the end of `pace`; a Socket.IO
/// writer (webRTCWorkspaces or entrance events) also sends the Engine.IO ping as often as socket.io-client does, so that a
/// long step is not dropped for silence.
async fn write(
    mut sink: SplitSink<Ws, Message>,
    wire: Wire,
    to: String,
    pace: Pace,
) -> anyhow::Result<SplitSink<Ws, Message>> {
    let mut next = pace.first;
    let mut ping_at = wire.pings().then(|| Instant::now() + sio::PING_EVERY);
    loop {
        if let Some(at) = ping_at.as_mut().filter(|at| **at <= Instant::now()) {
            sink.send(Message::text(sio::PING)).await?;
            *at += sio::PING_EVERY;
        }
        let ts = match pace.interval {
            Some(interval) => {
                tokio::time::sleep_until(next).await;
                if next >= pace.end {
                    break;
                }
                let ts = us_at(next.into_std());
                next += interval;
                ts
            }
            None => {
                match tokio::time::timeout_at(pace.end, pace.window.acquire()).await {
                    Ok(Ok(permit)) => permit.forget(),
                    _ => break,
                }
                now_us()
            }
        };
        sink.send(Message::text(frame(wire, &to, ts))).await?;
    }
    Ok(sink)
}
