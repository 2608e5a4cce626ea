//! Heartbeat: the server pings; a client that answers stays, one that answers nothing
//! for `ping_timeout_secs` is dropped (and goes offline like any closed socket).

mod common;

use common::*;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

async fn spawn() -> TestApp {
    spawn_app_with(|c| {
        c.server.ping_interval_secs = 1;
        c.server.ping_timeout_secs = 2;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_answers_pings_stays_connected() {
    let app = spawn().await;
    let mut owner = app.create_workspace(None).await;
    // Four pings a second apart: more than the timeout has passed, with nothing
    // from the client but the pongs its WebSocket library sends.
    let mut pings = 0;
    while pings < 4 {
        match owner.client.next_message("the server's pings").await {
            Message::Ping(_) => pings += 1,
            Message::Close(frame) => panic!("closed although answering pings: {frame:?}"),
            _ => {}
        }
    }
    let listed = owner.list_attendees().await;
    assert_eq!(find(&listed, &owner.id())["online"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_answers_nothing_is_dropped_and_goes_offline() {
    let app = spawn().await;
    let (mut owner, [ada]) = app.acquainted_workspace(["Ada"]).await;
    let ada_id = ada.id();
    // Never read again, so never a pong.
    let _silent = ada.client.into_inner();

    let offline = owner.client.recv_event("attendee-offline").await;
    assert_eq!(offline, json!({ "attendee_id": ada_id }));
    let listed = owner.list_attendees().await;
    assert_eq!(find(&listed, &ada_id)["online"], false);
    // Dropped, not removed: the session still brings Ada back.
    let (_back, frame) = app.try_re_attend(&ada.token).await;
    assert_eq!(frame["event"], "re-attended", "{frame}");
}
