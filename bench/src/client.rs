//! A minimal native-protocol client: send a request, wait for its reply.

use crate::common::{connect, Ws};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

pub struct Client {
    socket: Ws,
    next_id: u64,
}

/// A member's connection, with what the other side needs to reach it.
pub struct Member {
    pub client: Client,
    pub attendee: String,
    pub invite: Value,
    /// The session token, for `re-attend`.
    pub token: String,
    /// The workspace's id.
    pub workspace: String,
}

impl Member {
    /// The member that a `created`, `attended` or `re-attended` reply describes.
    fn of(client: Client, reply: &Value, invite: Value) -> Member {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Member {
            attendee: text(&reply["attendee"]["id"]),
            token: text(&reply["token"]),
            workspace: text(&reply["workspace"]["id"]),
            invite,
            client,
        }
    }
}

impl Client {
    /// Connects to `url`, with TCP_NODELAY: `connect_async` leaves Nagle's algorithm on,
    /// and a request written behind an unacknowledged one would then wait for the
    /// server's delayed ACK (about 40 ms), a stall of the load generator, not the server.
    pub async fn connect(url: &str) -> anyhow::Result<Client> {
        let (socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        Ok(Client { socket, next_id: 1 })
    }

    /// Connects to `/ws` from the next loopback source address.
    pub async fn connect_to(addr: SocketAddr) -> anyhow::Result<Client> {
        let socket = connect(addr, "/ws").await?;
        Ok(Client { socket, next_id: 1 })
    }

    /// Connects and creates a workspace.
    pub async fn create(addr: SocketAddr) -> anyhow::Result<Member> {
        let mut client = Client::connect_to(addr).await?;
        let created = client.request("create", json!({"name": "bench"})).await?;
        let invite = created["workspace"]["invite"].clone();
        Ok(Member::of(client, &created, invite))
    }

    /// Connects and attends the workspace of `invite`.
    pub async fn attend(addr: SocketAddr, invite: &Value) -> anyhow::Result<Member> {
        let mut client = Client::connect_to(addr).await?;
        let attended = client
            .request("attend", json!({"invite": invite, "name": "guest"}))
            .await?;
        Ok(Member::of(client, &attended, invite.clone()))
    }

    /// Connects and re-attends with a session token (the member must be offline).
    pub async fn re_attend(addr: SocketAddr, token: &str) -> anyhow::Result<Member> {
        let mut client = Client::connect_to(addr).await?;
        let back = client.request("re-attend", json!({"token": token})).await?;
        let invite = back["workspace"]["invite"].clone();
        Ok(Member::of(client, &back, invite))
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

    /// Waits for a push of `event` whose data `wanted` accepts; skips everything else.
    pub async fn wait_push(
        &mut self,
        event: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        while let Some(message) = self.socket.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            let push: Value = serde_json::from_str(&text)?;
            if push["event"] == event && wanted(&push["data"]) {
                return Ok(push["data"].clone());
            }
        }
        anyhow::bail!("connection closed while waiting for {event}")
    }

    pub fn into_socket(self) -> Ws {
        self.socket
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
