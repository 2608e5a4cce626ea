//! A minimal native-protocol client: send a request, wait for its reply.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Client {
    pub async fn connect(url: &str) -> anyhow::Result<Client> {
        let (socket, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Client { socket, next_id: 1 })
    }

    /// Sends `event` and returns the reply's `data`; pushes before it are skipped.
    pub async fn request(&mut self, event: &str, data: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = json!({"event": event, "id": id, "data": data});
        self.socket.send(Message::text(frame.to_string())).await?;
        while let Some(message) = self.socket.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            let reply: Value = serde_json::from_str(&text)?;
            if reply["re"] != json!(id) {
                continue;
            }
            if reply["event"] == "alert" {
                anyhow::bail!("{event} failed: {}", reply["data"]);
            }
            return Ok(reply["data"].clone());
        }
        anyhow::bail!("connection closed while waiting for the reply to {event}")
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
