//! Native workspaces across nodes: a member on any node joins a workspace another node
//! owns, relays to members elsewhere in order, and sees presence; capacity and the PIN
//! defence hold across nodes.

use super::*;
use futures_util::future::join_all;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_three_nodes_join_relay_in_order_and_see_presence() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 3, |_, _| {}).await;
    let mut owner = apps[0].create_workspace(None).await;
    let mut ada = apps[1].attend(&owner.invite(), None, "Ada").await;
    let joined = owner.client.recv_event("attendee-joined").await;
    assert_eq!(joined["attendee"]["id"], ada.attendee["id"]);
    let mut bob = apps[2].attend(&owner.invite(), None, "Bob").await;
    for member in [&mut owner, &mut ada] {
        let joined = member.client.recv_event("attendee-joined").await;
        assert_eq!(joined["attendee"]["id"], bob.attendee["id"]);
    }

    // Relays between every pair of nodes, in the order sent.
    for n in 0..20 {
        let candidate = json!({"to": bob.id(), "candidate": {"n": n}});
        ada.client.ok("icecandidate", candidate, "sent").await;
    }
    for n in 0..20 {
        let got = bob.client.recv_event("icecandidate").await;
        assert_eq!(got["from"], ada.attendee["id"]);
        assert_eq!(got["candidate"]["n"], n, "order across nodes: {got}");
    }
    let ring = json!({"to": owner.id(), "call": "c1", "sdp": {"type": "offer"}});
    bob.client.ok("ring", ring, "sent").await;
    assert_eq!(
        owner.client.recv_event("ring").await["from"],
        bob.attendee["id"]
    );
    let answer = json!({"to": bob.id(), "call": "c1", "sdp": {"type": "answer"}});
    owner.client.ok("answer", answer, "sent").await;
    assert_eq!(bob.client.recv_event("answer").await["call"], "c1");

    // Everyone lists everyone, from whichever node.
    let listed = ada.list_attendees().await;
    assert_eq!(ids_of(&listed).len(), 3, "{listed}");

    // Presence: Bob goes offline on node 2 and comes back on node 1.
    let offline = bob.go_offline_seen_by(&mut ada).await;
    assert_eq!(offline["attendee_id"], bob.attendee["id"]);
    let seen = owner.client.recv_event("attendee-offline").await;
    assert_eq!(seen["attendee_id"], bob.attendee["id"]);
    let (mut back, frame) = apps[1].try_re_attend(&bob.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
    assert_eq!(
        frame["data"]["call"]["id"], "c1",
        "the owner kept the call: {frame}"
    );
    for member in [&mut owner, &mut ada] {
        let online = member.client.recv_event("attendee-online").await;
        assert_eq!(online["attendee_id"], bob.attendee["id"]);
    }
    let candidate = json!({"to": ada.id(), "candidate": "after"});
    back.ok("icecandidate", candidate, "sent").await;
    assert_eq!(
        ada.client.recv_event("icecandidate").await["candidate"],
        "after"
    );

    // Leaving on a node that does not own the workspace.
    ada.client.ok("leave", json!({}), "left").await;
    let left = owner.client.recv_event("attendee-left").await;
    assert_eq!(left["attendee_id"], ada.attendee["id"]);
    let refused = json!({"to": ada.id(), "candidate": "x"});
    assert_eq!(
        owner.client.alert("icecandidate", refused).await,
        "unknown_attendee"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_attends_over_three_nodes_at_capacity_five_admit_exactly_four() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 3, |_, c| c.workspace.max_capacity = 5).await;
    let owner = apps[0].create_workspace(None).await;
    let invite = owner.invite();
    let clients = join_all((0..20).map(|i| apps[i % 3].client())).await;
    let attempts = clients.into_iter().enumerate().map(|(i, mut client)| {
        let data = attend_data(&invite, None, &format!("Guest {i}"));
        tokio::spawn(async move {
            let frame = client.request("attend", data).await;
            (client, frame)
        })
    });
    let mut admitted = 0;
    let mut _keep = Vec::new();
    for result in join_all(attempts).await {
        let (client, frame) = result.expect("attend task");
        match frame["event"].as_str() {
            Some("attended") => admitted += 1,
            _ => assert_eq!(alert_code(&frame), "workspace_full", "{frame}"),
        }
        _keep.push(client);
    }
    assert_eq!(
        admitted, 4,
        "the owner plus four fill five places, cluster-wide"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_count_on_every_node_together() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 3, |_, c| c.limits.pin_failures = 3).await;
    let owner = apps[0].create_workspace(Some("right-pin-1")).await;
    let invite = owner.invite();
    for i in 0..3 {
        let (_client, frame) = apps[i % 3]
            .try_attend(&invite, Some("wrong-pin-0"), "Eve")
            .await;
        assert_eq!(alert_code(&frame), "wrong_pin", "{frame}");
    }
    // The fourth guess, on yet another node, is refused before any hash: even the
    // right PIN.
    for app in &apps {
        let (_client, frame) = app.try_attend(&invite, Some("right-pin-1"), "Eve").await;
        assert_eq!(alert_code(&frame), "rate_limited", "{frame}");
    }
}
