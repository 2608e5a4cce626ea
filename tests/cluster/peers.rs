//! The peer-id protocols across nodes: signal-fire ids, the one webrtc-bootstrap root,
//! and Peero's list.

use super::*;
use serde_json::{json, Value};

fn url(app: &TestApp, path: &str) -> String {
    format!("ws://{}{path}", app.addr)
}

fn with_peer_protocols(_: usize, c: &mut Config) {
    c.compat.signal_fire.enabled = true;
    c.compat.signal_fire.notify_unknown = true;
    c.compat.peero.enabled = true;
}

/// A signal-fire peer on `app` and its id.
async fn signal_fire_peer(app: &TestApp) -> (Client, String) {
    let mut client = Client::connect(&url(app, "/signal-fire")).await;
    let hello = client.recv_frame("the id frame").await;
    assert_eq!(hello["type"], "id", "{hello}");
    (client, hello["peerId"].as_str().unwrap().to_string())
}

/// Sends `frame` from `from` until `to` gets it: a node learns of an id on another node
/// a moment after its owner does, and until then the sender is told
/// `unknown_receiver` (notify_unknown), which is the event that prompts the retry.
async fn until_delivered(from: &mut Client, to: &mut Client, frame: Value) -> Value {
    loop {
        from.send(frame.clone()).await;
        tokio::select! {
            got = to.recv_frame("the relayed frame") => return got,
            refused = from.recv_frame("unknown_receiver") => {
                assert_eq!(refused["code"], "unknown_receiver", "{refused}");
            }
        }
    }
}

#[tokio::test]
async fn signal_fire_peers_on_different_nodes_reach_each_other_in_order() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 2, with_peer_protocols).await;
    let (mut a, a_id) = signal_fire_peer(&apps[0]).await;
    let (mut b, b_id) = signal_fire_peer(&apps[1]).await;

    let first = json!({"receiverId": b_id, "type": "offer", "n": 0});
    let got = until_delivered(&mut a, &mut b, first).await;
    assert_eq!(got["senderId"], a_id.as_str(), "{got}");
    for n in 1..=50 {
        a.send(json!({"receiverId": b_id, "type": "candidate", "n": n}))
            .await;
    }
    for n in 1..=50 {
        let got = b.recv_frame("the next candidate").await;
        assert_eq!(got["n"], n, "per-sender order across nodes: {got}");
    }
    b.send(json!({"receiverId": a_id, "type": "answer"})).await;
    assert_eq!(a.recv_frame("the answer").await["senderId"], b_id.as_str());
}
