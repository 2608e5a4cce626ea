//! The foglet entrance events (COMPAT.md 1b; foglet-signaling-server 1.0.3) over the
//! bench's Socket.IO client (sio.rs), as foglet-core 5.1.2's signaling sends them:
//! sockets that join a room, and pairs through which every message sent is one message
//! forwarded to the other socket of the pair.
//!
//! A pair is a room of its own. Its first socket joins it alone and is *connected*
//! (`joinedRoom {connected: true}`); the second joins and is not. The second (the
//! newcomer) sends `new {id, tid, offer, room}` with an offer under a tid of the pair:
//! the first offer under an unknown tid goes to a connected member of the room other
//! than the sender, here the first socket, which gets `new_spray <offer>`, and the server
//! remembers tid → (sender, chosen). From then on, every `new` of the newcomer under that
//! tid goes to the same member as `new_spray` (the newcomer is not connected), and every
//! `accept {id, offer, room}` of the connected member under that tid goes back to the
//! newcomer as `accept_spray <offer>`. Both servers forward exactly that (the original's
//! src/signaling-server.js: `cache.get(offer.tid).dest.emit('new_spray', offer)`,
//! `.source.emit('accept_spray', offer)`).
//!
//! Offers are neighborhood-wrtc's `MRequest` / `MResponse` (`{tid, peer, pid, offer,
//! type, offerType}`) around a trickled candidate, the relay scenario's (~250 bytes, the
//! send time in it), so that the receiver times it.

use crate::common::{now_us, Ws};
use crate::relay_wire::{End, Wire};
use crate::sio;
use serde_json::json;
use std::net::SocketAddr;

/// Where `relay_wire::frame` puts the candidate (with its send time) in a pair's
/// template.
pub const CANDIDATE: &str = "@candidate@";

/// The tid foglet-core adds to `new` besides the offer's (a fresh UUID per event, which
/// the server does not read).
const OWN_TID: &str = "5f0c2a53-8f4e-4c1b-9d2e-7a6b3c1d0e9f";

/// A peer id in foglet's form (a UUID), unique in this run: `stamp` and `n`.
pub fn id(stamp: u64, n: usize) -> String {
    format!("{:08x}-0000-4000-8000-{n:012x}", stamp & 0xffff_ffff)
}

/// A socket that has joined `room` as `id`, and whether it is the room's connected
/// member (`joinedRoom {room, connected}`).
pub async fn join(addr: SocketAddr, id: &str, room: &str) -> anyhow::Result<(Ws, bool)> {
    let mut socket = sio::open(addr).await?;
    sio::emit(&mut socket, "joinRoom", json!({"id": id, "room": room})).await?;
    let joined = sio::event(&mut socket, "joinedRoom").await?;
    anyhow::ensure!(
        joined["room"] == room,
        "joinedRoom for another room: {joined}"
    );
    Ok((socket, joined["connected"] == true))
}

/// The packets of a pair, each with [`CANDIDATE`] where the candidate goes: the
/// newcomer's `new` and the connected member's `accept`, under `tid`.
pub fn templates(connected: &str, newcomer: &str, room: &str, tid: &str) -> (String, String) {
    let offer = |peer: &str, kind: &str| {
        format!(
            r#"{{"tid":"{tid}","peer":"{peer}-I|{peer}-O","pid":"spray-wrtc","offer":{{"type":"candidate","candidate":{CANDIDATE}}},"type":"{kind}","offerType":"init"}}"#
        )
    };
    let new = format!(
        r#"42["new",{{"id":"{newcomer}","tid":"{OWN_TID}","offer":{},"room":"{room}"}}]"#,
        offer(newcomer, "MRequest")
    );
    let accept = format!(
        r#"42["accept",{{"id":"{connected}","offer":{},"room":"{room}"}}]"#,
        offer(connected, "MResponse")
    );
    (new, accept)
}

/// Two sockets in a room of their own, past the first offer: the connected member, whose
/// frames are `accept`s, and the newcomer, whose frames are `new`s.
pub async fn pair(addr: SocketAddr, key: usize) -> anyhow::Result<(End, End)> {
    let stamp = now_us();
    let room = format!("bench-{stamp}-{key}");
    let tid = id(stamp, (1 << 40) + key);
    let (a_id, b_id) = (id(stamp, 2 * key), id(stamp, 2 * key + 1));
    let (mut a, a_connected) = join(addr, &a_id, &room).await?;
    anyhow::ensure!(a_connected, "the first in room {room} is not connected");
    let (mut b, b_connected) = join(addr, &b_id, &room).await?;
    anyhow::ensure!(!b_connected, "the second in room {room} is connected");
    // The offer itself, under a tid the server does not know yet: the server picks the
    // connected member, and remembers it for the tid.
    let first = json!({"tid": tid, "peer": format!("{b_id}-I|{b_id}-O"), "pid": "spray-wrtc",
                       "offer": {"type": "offer", "sdp": "v=0\r\no=- 0 2 IN IP4 127.0.0.1\r\n"},
                       "type": "MRequest", "offerType": "init"});
    sio::emit(
        &mut b,
        "new",
        json!({"id": b_id, "tid": OWN_TID, "offer": first, "room": room}),
    )
    .await?;
    let got = sio::event(&mut a, "new_spray").await?;
    anyhow::ensure!(got["tid"] == tid, "new_spray of another tid: {got}");
    let (new, accept) = templates(&a_id, &b_id, &room, &tid);
    let end = |socket, to| End {
        socket,
        wire: Wire::Entrance,
        to,
    };
    Ok((end(a, accept), end(b, new)))
}
