//! What the relay's pairs speak: how two ends are paired on each kind of server, and the
//! frame one end sends the other, with its send time where the receiver finds it.

use crate::client::Client;
use crate::common::{connect, now_us, Target, Ws};
use crate::sio;
use anyhow::Context;
use futures_util::StreamExt;
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

/// What the pairs speak: how they are paired, and how a frame names its target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wire {
    /// Switchboard's own protocol at `/ws`: members of one workspace.
    Native,
    /// The bare relay: sockets paired by key; frames go through as they are.
    Bare,
    /// signal-fire 0.x: peers told their id on connect, frames routed by `receiverId`.
    SignalFire,
    /// Switchboard's Socket.IO endpoint (webRTCWorkspaces events) over a WebSocket:
    /// members of one workspace; each `icecandidate` names target, sender, workspace and
    /// the sender's access token, and gets no reply.
    SocketIo,
    /// An echo server (`switchboard-bench actix-echo`, `/echo`): no pairs; each socket
    /// gets its own frames back. The idle-connection baseline.
    Echo,
    /// The foglet entrance events over Socket.IO (Switchboard's `[compat.entrance]`, or
    /// foglet-signaling-server 1.0.3): a room per pair; one end sends `new`, forwarded
    /// as `new_spray`, the other `accept`, forwarded as `accept_spray` (entrance.rs).
    Entrance,
}

impl Wire {
    /// Whether its clients send the Engine.IO ping, as socket.io-client does.
    pub fn pings(self) -> bool {
        matches!(self, Wire::SocketIo | Wire::Entrance)
    }
}

impl From<Target> for Wire {
    fn from(target: Target) -> Wire {
        match target {
            Target::Switchboard => Wire::Native,
            Target::Bare => Wire::Bare,
        }
    }
}

/// One side of a pair: its socket and how its frames name its partner: the id the server
/// knows the partner by or, for Socket.IO, every field of the envelope but the candidate
/// (target, sender, workspace, access token), or, for the entrance events, the whole
/// packet with `entrance::CANDIDATE` where the candidate goes.
pub struct End {
    pub socket: Ws,
    pub wire: Wire,
    pub to: String,
}

/// Two connected members of one workspace (native or Socket.IO), two paired sockets of
/// the bare relay, or two signal-fire peers; the bare relay answers each frame with
/// `sent {}` when `acks` is set.
pub async fn pair(
    wire: Wire,
    addr: SocketAddr,
    key: usize,
    acks: bool,
) -> anyhow::Result<(End, End)> {
    let end = |socket, to| End { socket, wire, to };
    match wire {
        Wire::Native => {
            let owner = Client::create(addr).await?;
            let guest = Client::attend(addr, &owner.invite).await?;
            let a = end(owner.client.into_socket(), guest.attendee);
            Ok((a, end(guest.client.into_socket(), owner.attendee)))
        }
        Wire::SocketIo => {
            let owner = sio::Member::create(addr).await?;
            let guest = sio::Member::attend(addr, &owner.invite).await?;
            let (to_guest, to_owner) = (owner.envelope_to(&guest), guest.envelope_to(&owner));
            Ok((end(owner.socket, to_guest), end(guest.socket, to_owner)))
        }
        Wire::SignalFire => {
            let (a, a_id) = signal_fire_peer(addr).await?;
            let (b, b_id) = signal_fire_peer(addr).await?;
            Ok((end(a, b_id), end(b, a_id)))
        }
        Wire::Echo => anyhow::bail!("the echo server pairs no sockets"),
        Wire::Entrance => crate::entrance::pair(addr, key).await,
        Wire::Bare => {
            let query = if acks { "?ack" } else { "" };
            let path = format!("/pair/{key}-{}{query}", now_us());
            let mut a = connect(addr, &path).await?;
            let mut b = connect(addr, &path).await?;
            for socket in [&mut a, &mut b] {
                first_text(socket, |t| t == "paired").await?;
            }
            Ok((end(a, "_bare".into()), end(b, "_bare".into())))
        }
    }
}

/// A peer of a signal-fire server (`/signal-fire`; the original answers on any path),
/// and the id the server gave it.
async fn signal_fire_peer(addr: SocketAddr) -> anyhow::Result<(Ws, String)> {
    let mut socket = connect(addr, "/signal-fire").await?;
    let id = first_text(&mut socket, |t| t.contains(r#""type":"id""#)).await?;
    let id: serde_json::Value = serde_json::from_str(&id)?;
    let id = id["peerId"].as_str().context("id frame without peerId")?;
    Ok((socket, id.to_string()))
}

/// The first text frame that `wanted` accepts; frames before it are skipped.
async fn first_text(socket: &mut Ws, wanted: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    while let Some(message) = socket.next().await {
        if let Message::Text(text) = message? {
            if wanted(text.as_str()) {
                return Ok(text.to_string());
            }
        }
    }
    anyhow::bail!("the server closed the connection during the setup")
}

/// A realistic candidate, with the send time (µs) where the receiver finds it, in the
/// envelope of `wire` (the bare relay gets the native one: it forwards any bytes).
pub fn frame(wire: Wire, to: &str, ts: u64) -> String {
    let candidate = format!(
        r#"{{"candidate":"candidate:842163049 1 udp 1677729535 192.0.2.10 50000 typ srflx raddr 0.0.0.0 rport 0 generation 0 ufrag Zx9q network-cost 999 ts={ts}","sdpMid":"0","sdpMLineIndex":0}}"#
    );
    match wire {
        Wire::Native | Wire::Bare | Wire::Echo => {
            format!(r#"{{"event":"icecandidate","data":{{"to":"{to}","candidate":{candidate}}}}}"#)
        }
        Wire::SignalFire => {
            format!(r#"{{"type":"candidate","receiverId":"{to}","candidate":{candidate}}}"#)
        }
        Wire::SocketIo => format!(r#"42["icecandidate",{{{to},"candidate":{candidate}}}]"#),
        Wire::Entrance => to.replacen(crate::entrance::CANDIDATE, &candidate, 1),
    }
}

/// The send time (µs) in a candidate sent by `frame`, wherever its envelope put it.
pub fn parse_ts(text: &str) -> Option<u64> {
    let at = text.find("ts=")? + 3;
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}
