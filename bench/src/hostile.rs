//! The hostile clients of the `attacks` scenario, each written frame by frame (see
//! raw.rs). Each attacks until its time is up or the server ends its TCP connection,
//! whichever comes first, then goes away; it reports when (if) the server ended it.

use crate::client::Client;
use crate::raw::{established, frame, header, write_all, Raw, CONTINUATION, PING, PONG, TEXT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Attack {
    /// a. A text frame header declaring 2^62 bytes, then bytes as fast as they go.
    HugeFrame,
    /// b. 125-byte pings, continuously, never reading (small SO_RCVBUF).
    PingFlood,
    /// c. A fragmented text message opened, then empty continuation frames, endlessly.
    Continuations,
    /// d. Unsolicited 125-byte pongs, continuously.
    Pongs,
    /// e. A member that never reads while another relays 60 KB candidates to it.
    SlowTarget,
}

impl Attack {
    pub fn name(self) -> &'static str {
        match self {
            Attack::HugeFrame => "huge-frame",
            Attack::PingFlood => "ping-flood",
            Attack::Continuations => "continuations",
            Attack::Pongs => "pongs",
            Attack::SlowTarget => "slow-target",
        }
    }
}

/// How an attack went, as the attacker saw it.
pub struct Outcome {
    /// When the server ended the attacker's TCP connection, from the first attacking
    /// byte; `None` if it was still up when the attacker left.
    pub ended: Option<Duration>,
    /// What was sent, and what came back, per attack.
    pub detail: Value,
}

/// Small enough that a client that does not read stops taking bytes after a few KiB.
const SMALL_RCVBUF: u32 = 4096;
/// A 125-byte payload: the most a control frame may carry (RFC 6455 §5.5).
const CONTROL_PAYLOAD: [u8; 125] = [b'p'; 125];

/// Runs `attack` against `addr` for at most `duration`.
pub async fn run(attack: Attack, addr: SocketAddr, duration: Duration) -> anyhow::Result<Outcome> {
    let flood = |opening: Vec<u8>, unit: Vec<u8>, recv_buffer| Flood {
        opening,
        unit,
        recv_buffer,
    };
    let ping = frame(true, PING, &CONTROL_PAYLOAD);
    let pong = frame(true, PONG, &CONTROL_PAYLOAD);
    let plan = match attack {
        Attack::HugeFrame => flood(header(true, TEXT, 1 << 62), vec![b'x'; 64 * 1024], None),
        Attack::PingFlood => flood(Vec::new(), ping, Some(SMALL_RCVBUF)),
        Attack::Continuations => {
            let opening = frame(false, TEXT, br#"{"event":"#);
            flood(opening, frame(false, CONTINUATION, b""), None)
        }
        Attack::Pongs => flood(Vec::new(), pong, None),
        Attack::SlowTarget => return slow_target(addr, duration).await,
    };
    plan.run(addr, duration).await
}

/// One connection writing `opening`, then `unit` over and over, reading nothing.
struct Flood {
    opening: Vec<u8>,
    unit: Vec<u8>,
    recv_buffer: Option<u32>,
}

impl Flood {
    async fn run(self, addr: SocketAddr, duration: Duration) -> anyhow::Result<Outcome> {
        let raw = Raw::connect(addr, self.recv_buffer).await?;
        let stream = raw.stream;
        // Units batched into ~64 KiB writes, so that the attacker is not the bottleneck.
        let batch = self.unit.repeat((64 * 1024 / self.unit.len()).max(1));
        let written = AtomicU64::new(0);
        let start = Instant::now();
        let flood = async {
            write_all(&stream, &self.opening).await?;
            loop {
                write_all(&stream, &batch).await?;
                written.fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
        };
        let ended = until_ended(&stream, start, duration, flood).await?;
        let written = written.load(Ordering::Relaxed);
        let frames = written / self.unit.len() as u64;
        Ok(Outcome {
            ended,
            detail: json!({"bytes_written": written, "units_written": frames}),
        })
    }
}

/// Runs `attack` until `duration` has passed since `start`, or until the server ends
/// `stream` (seen as a write error, or as the socket leaving ESTABLISHED); returns
/// when the server ended it, if it did.
async fn until_ended(
    stream: &TcpStream,
    start: Instant,
    duration: Duration,
    attack: impl std::future::Future<Output = std::io::Result<()>>,
) -> anyhow::Result<Option<Duration>> {
    let watch = async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if !established(stream)? {
                return anyhow::Ok(());
            }
        }
    };
    tokio::select! {
        _ = attack => Ok(Some(start.elapsed())),
        watched = watch => watched.map(|()| Some(start.elapsed())),
        _ = tokio::time::sleep_until(start + duration) => Ok(None),
    }
}

/// Bytes of each relayed request: 60 KiB, under the default `max_message_bytes` (64 KiB).
const CANDIDATE_BYTES: usize = 60 * 1024;
/// Requests the sender keeps outstanding.
const SENDER_WINDOW: usize = 8;

/// e: the slow member attends and reads nothing more (small SO_RCVBUF); the owner
/// relays 60 KiB candidates to it, a new one as each reply comes back, whatever the
/// reply. The attacker's connection is the slow member's.
async fn slow_target(addr: SocketAddr, duration: Duration) -> anyhow::Result<Outcome> {
    let owner = Client::create(addr).await?;
    let mut slow = Raw::connect(addr, Some(SMALL_RCVBUF)).await?;
    let attend = json!({"event": "attend", "id": 1,
                        "data": {"invite": owner.invite, "name": "slow"}});
    write_all(
        &slow.stream,
        &frame(true, TEXT, attend.to_string().as_bytes()),
    )
    .await?;
    let slow_id = loop {
        let reply: Value = serde_json::from_str(&slow.read_text().await?)?;
        if reply["re"] == 1 {
            anyhow::ensure!(reply["event"] == "attended", "attend failed: {reply}");
            break reply["data"]["attendee"]["id"].clone();
        }
    };
    let sender = Sender::default();
    let start = Instant::now();
    let end = start + duration;
    let relay = sender.relay(owner.client.into_socket(), &slow_id, end);
    let ended = until_ended(&slow.stream, start, duration, async {
        let _ = relay.await;
        // The sender's connection went first: keep watching the slow member's.
        std::future::pending().await
    })
    .await?;
    Ok(Outcome {
        ended,
        detail: sender.detail(),
    })
}

/// The sending member of e, and what the server answered it.
#[derive(Default)]
struct Sender {
    sent: AtomicU64,
    rate_limited: AtomicU64,
    other: AtomicU64,
    /// The first other alert, as it came.
    first_other: std::sync::Mutex<Option<String>>,
    /// When the server ended the sender's connection, ms from the start.
    ended_ms: AtomicU64,
}

impl Sender {
    /// Relays to `to` until `end`, `SENDER_WINDOW` requests outstanding.
    async fn relay(&self, socket: crate::common::Ws, to: &Value, end: Instant) {
        let start = Instant::now();
        let (mut sink, mut stream) = socket.split();
        let window = Arc::new(Semaphore::new(SENDER_WINDOW));
        let padding = "x".repeat(CANDIDATE_BYTES - 160);
        let request = json!({"event": "icecandidate", "data": {"to": to,
            "candidate": {"candidate": format!("candidate:1 1 udp 1 192.0.2.1 9 typ host {padding}"),
                          "sdpMid": "0", "sdpMLineIndex": 0}}})
        .to_string();
        let write = async {
            while let Ok(Ok(permit)) = tokio::time::timeout_at(end, window.acquire()).await {
                permit.forget();
                if sink.send(Message::text(request.clone())).await.is_err() {
                    break;
                }
            }
        };
        let read = async {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    window.add_permits(self.count(&text));
                }
            }
        };
        tokio::select! {
            () = write => {}
            () = read => self.ended_ms.store(start.elapsed().as_millis() as u64 + 1, Ordering::Relaxed),
        }
    }

    /// Counts a frame from the server; returns 1 if it answers a request.
    fn count(&self, text: &str) -> usize {
        let counter = if text.starts_with(r#"{"event":"sent""#) {
            &self.sent
        } else if text.contains(r#""rate_limited""#) {
            &self.rate_limited
        } else if text.starts_with(r#"{"event":"alert""#) {
            let mut first = self.first_other.lock().expect("first alert");
            first.get_or_insert_with(|| text.chars().take(200).collect());
            &self.other
        } else {
            return 0; // a push (presence), not a reply
        };
        counter.fetch_add(1, Ordering::Relaxed);
        1
    }

    fn detail(&self) -> Value {
        let ended = self.ended_ms.load(Ordering::Relaxed);
        json!({
            "sent": self.sent.load(Ordering::Relaxed),
            "rate_limited": self.rate_limited.load(Ordering::Relaxed),
            "other_alerts": self.other.load(Ordering::Relaxed),
            "first_other_alert": self.first_other.lock().expect("first alert").clone(),
            "sender_ended_after": (ended > 0).then(|| (ended - 1) as f64 / 1000.0),
        })
    }
}
