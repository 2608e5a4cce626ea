//! Tools for tests that kill the server under its clients: a connection that reports a
//! dead server instead of panicking, and a seeded PRNG (no new dependency).

use super::within;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// xorshift64*: a small seeded PRNG, so a failing run can be repeated with its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A connection that reports a dead server as `None` instead of panicking.
pub struct Conn {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Conn {
    pub async fn open(url: &str) -> Option<Conn> {
        let (ws, _) = within("a handshake", tokio_tungstenite::connect_async(url))
            .await
            .ok()?;
        Some(Conn { ws, next_id: 0 })
    }

    /// The reply to `event`, or `None` when the connection died first.
    pub async fn call(&mut self, event: &str, data: Value) -> Option<Value> {
        self.next_id += 1;
        let frame = json!({"event": event, "id": self.next_id, "data": data});
        self.ws.send(Message::Text(frame.to_string())).await.ok()?;
        loop {
            let message = within(&format!("the reply to {event}"), self.ws.next()).await;
            let Message::Text(text) = message?.ok()? else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON from the server");
            if frame["re"] == json!(self.next_id) {
                return Some(frame);
            }
        }
    }
}
