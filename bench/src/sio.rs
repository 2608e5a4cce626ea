//! A minimal Socket.IO v2 client of the webRTCWorkspaces events, spoken directly over a
//! WebSocket (`/socket.io/?EIO=3&transport=websocket`, what socket.io-client does with
//! `transports: ['websocket']`): Engine.IO 3 packets, Socket.IO events `42[name, data]`
//! on the default namespace. The entrance events (entrance.rs) use its `open`, `emit`
//! and `event`.

use crate::common::{connect, Ws};
use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// Where Switchboard serves Socket.IO, with the WebSocket transport from the start.
pub const PATH: &str = "/socket.io/?EIO=3&transport=websocket";

/// The Engine.IO ping a client sends at least every pingInterval (the server's default:
/// 25 s); a client silent for pingInterval + pingTimeout is dropped.
pub const PING: &str = "2";
pub const PING_EVERY: Duration = Duration::from_secs(25);

/// A Socket.IO member of a workspace: its socket, and what its events name.
pub struct Member {
    pub socket: Ws,
    pub workspace: String,
    pub attendee: String,
    pub access_token: String,
    /// The workspace's invite token (`workspace.token`).
    pub invite: String,
}

impl Member {
    /// Connects and creates a workspace (`create` → `created`).
    pub async fn create(addr: SocketAddr) -> anyhow::Result<Member> {
        let mut socket = open(addr).await?;
        emit(
            &mut socket,
            "create",
            json!({"workspace": {"name": "bench", "avatar": ""},
                   "attendee": {"name": "owner", "avatar": ""}, "nonce": "1"}),
        )
        .await?;
        let created = event(&mut socket, "created").await?;
        Member::of(socket, &created)
    }

    /// Connects and attends the workspace of `invite` (`attend` → `attendance-granted`).
    pub async fn attend(addr: SocketAddr, invite: &str) -> anyhow::Result<Member> {
        let mut socket = open(addr).await?;
        emit(
            &mut socket,
            "attend",
            json!({"workspace": {"token": invite},
                   "attendee": {"name": "guest", "avatar": ""}, "nonce": "1"}),
        )
        .await?;
        let granted = event(&mut socket, "attendance-granted").await?;
        Member::of(socket, &granted)
    }

    fn of(socket: Ws, grant: &Value) -> anyhow::Result<Member> {
        let text = |v: &Value, what: &str| {
            v.as_str()
                .map(str::to_string)
                .with_context(|| format!("grant without {what}: {grant}"))
        };
        Ok(Member {
            workspace: text(&grant["workspace"]["id"], "workspace.id")?,
            attendee: text(&grant["attendee"]["id"], "attendee.id")?,
            access_token: text(&grant["accessToken"], "accessToken")?,
            invite: text(&grant["workspace"]["token"], "workspace.token")?,
            socket,
        })
    }

    /// The fields of an `icecandidate` from this member to `to` but the candidate:
    /// target, sender, workspace and token.
    pub fn envelope_to(&self, to: &Member) -> String {
        format!(
            r#""attendee":{{"id":"{}"}},"broadcaster":{{"id":"{}"}},"workspace":{{"id":"{}"}},"accessToken":"{}""#,
            to.attendee, self.attendee, self.workspace, self.access_token
        )
    }
}

/// A WebSocket to the Socket.IO endpoint, past the Engine.IO open packet (`0{…}`) and
/// the server's connect to the default namespace (`40`).
pub async fn open(addr: SocketAddr) -> anyhow::Result<Ws> {
    let mut socket = connect(addr, PATH).await?;
    let open = next_text(&mut socket).await?;
    anyhow::ensure!(
        open.starts_with("0{"),
        "expected the open packet, got {open}"
    );
    let connected = next_text(&mut socket).await?;
    anyhow::ensure!(connected == "40", "expected 40, got {connected}");
    Ok(socket)
}

pub async fn emit(socket: &mut Ws, name: &str, data: Value) -> anyhow::Result<()> {
    let packet = format!("42{}", json!([name, data]));
    socket.send(Message::text(packet)).await?;
    Ok(())
}

/// The payload of the first event `name`; other events before it are skipped, and an
/// `alert` (the refusal of every event) fails.
pub async fn event(socket: &mut Ws, name: &str) -> anyhow::Result<Value> {
    loop {
        let text = next_text(socket).await?;
        let Some(json) = text.strip_prefix("42") else {
            continue;
        };
        let Ok(Value::Array(args)) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        match args.first().and_then(Value::as_str) {
            Some(n) if n == name => return Ok(args.get(1).cloned().unwrap_or(Value::Null)),
            Some("alert") => anyhow::bail!("waiting for {name}: alert {}", args[1]),
            Some(other @ ("destroyed" | "full")) => anyhow::bail!("waiting for {name}: {other}"),
            _ => {}
        }
    }
}

async fn next_text(socket: &mut Ws) -> anyhow::Result<String> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            return Ok(text.to_string());
        }
    }
    anyhow::bail!("the server closed the Socket.IO connection during the setup")
}
