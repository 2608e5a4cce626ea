//! What a hostile or broken client can do at the WebSocket level, and the bound it meets
//! (PROTOCOL.md 1.1, "Transport and frames"): bytes are bounded before they are
//! buffered, every frame counts against the rate, every queued byte against the queue,
//! every close ends the TCP connection within 2 s, and fragments are judged as a whole.

mod common;

use common::raw::*;
use common::*;
use serde_json::Value;
use std::time::Duration;

/// The close bound of PROTOCOL.md 1.1, with room for a loaded test machine.
const CLOSE_BOUND: Duration = Duration::from_secs(4);

fn alert_of(payload: &[u8]) -> Value {
    let frame: Value = serde_json::from_slice(payload).expect("a JSON alert");
    assert_eq!(frame["event"], "alert", "{frame}");
    frame
}

/// Writes `chunk` until the server cuts the connection; fails after `limit`.
async fn write_until_cut(raw: &mut Raw, chunk: &[u8], limit: Duration) {
    within_for(
        limit,
        "the server to cut a client that keeps sending",
        async { while raw.write(chunk).await.is_ok() {} },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_declaring_2_pow_62_bytes_is_refused_before_its_payload() {
    let app = spawn_app().await;
    let mut raw = Raw::connect(app.addr).await;
    raw.write(&header(true, TEXT, 1 << 62)).await.unwrap();
    // Nothing but the header was sent: the verdict cannot have waited for the payload.
    let (opcode, payload) = raw.read_frame().await.expect("an alert");
    assert_eq!(opcode, TEXT);
    assert_eq!(alert_code(&alert_of(&payload)), "too_large");
    assert_eq!(raw.close_code().await, Some(1009));
    // What the client sends after it is not read, and the connection ends.
    write_until_cut(&mut raw, &vec![0x55; 1 << 20], CLOSE_BOUND + WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_are_limited_as_one_message() {
    let app = spawn_app_with(|c| c.limits.max_message_bytes = 4096).await;
    let mut raw = Raw::connect(app.addr).await;
    raw.send(false, TEXT, &[b' '; 3000]).await.unwrap();
    // The second fragment's header alone takes the message past the limit.
    raw.write(&header(false, CONTINUATION, 3000)).await.unwrap();
    let (_, payload) = raw.read_frame().await.expect("an alert");
    assert_eq!(alert_code(&alert_of(&payload)), "too_large");
    assert_eq!(raw.close_code().await, Some(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_closes_1007_whether_whole_or_split_across_fragments() {
    let app = spawn_app().await;
    let mut whole = Raw::connect(app.addr).await;
    whole
        .send(true, TEXT, b"{\"event\":\"\xC3(\"}")
        .await
        .unwrap();
    assert_eq!(whole.close_code().await, Some(1007));

    let mut split = Raw::connect(app.addr).await;
    split.send(false, TEXT, b"{\"event\":\"\xC3").await.unwrap();
    split.send(true, CONTINUATION, b"(\"}").await.unwrap();
    assert_eq!(split.close_code().await, Some(1007));

    // A character split across fragments is fine.
    let mut fine = Raw::connect(app.addr).await;
    fine.send(false, TEXT, b"{\"event\":\"\xC3").await.unwrap();
    fine.send(true, CONTINUATION, b"\xA9\"}").await.unwrap();
    let (_, payload) = fine.read_frame().await.expect("an answer");
    assert_eq!(alert_code(&alert_of(&payload)), "unknown_event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_fragments_and_unsolicited_pongs_count_against_the_rate() {
    let app = spawn_app().await;
    let mut fragments = Raw::connect(app.addr).await;
    fragments.send(false, TEXT, b"").await.unwrap();
    let empty = frame(false, CONTINUATION, b"").repeat(2000);
    fragments.write(&empty).await.unwrap();
    assert_eq!(fragments.close_code().await, Some(1008));

    let mut pongs = Raw::connect(app.addr).await;
    pongs
        .write(&frame(true, PONG, b"").repeat(2000))
        .await
        .unwrap();
    assert_eq!(pongs.close_code().await, Some(1008));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_from_a_client_that_never_reads_fill_its_queue_and_end_it() {
    let app = spawn_app_with(|c| {
        // Only the queue bound may stop this client, not the rate.
        c.limits.requests_per_second = 1_000_000;
        c.limits.request_burst = 1_000_000;
        c.limits.max_outbound_bytes = 64 * 1024;
    })
    .await;
    let mut raw = Raw::connect_from([127, 0, 0, 1].into(), app.addr, Some(4096)).await;
    let pings = frame(true, PING, &[7; 125]).repeat(512);
    write_until_cut(&mut raw, &pings, WAIT + CLOSE_BOUND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_close_handshake_ends_tcp_at_once() {
    let app = spawn_app().await;
    let mut raw = Raw::connect(app.addr).await;
    raw.send(true, CLOSE, &1000u16.to_be_bytes()).await.unwrap();
    assert_eq!(raw.close_code().await, Some(1000));
    let (how, took) = raw.ended_within(CLOSE_BOUND).await;
    assert_eq!(how, Ended::Eof, "a clean FIN after a clean handshake");
    // "At once": well before the second actix-http lingers by default.
    assert!(took < Duration::from_millis(500), "FIN after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kicked_member_that_does_not_read_is_cut_off() {
    let app = spawn_app_with(|c| c.limits.requests_per_second = 10_000).await;
    let owner = app.create_workspace(None).await;
    let mut owner = owner;
    let mut victim = Raw::connect_from([127, 0, 0, 1].into(), app.addr, Some(4096)).await;
    let attend = serde_json::json!({"event": "attend", "id": 1,
        "data": {"invite": owner.invite(), "name": "Sleeper"}});
    victim
        .send(true, TEXT, attend.to_string().as_bytes())
        .await
        .unwrap();
    let (_, payload) = victim.read_frame().await.expect("attended");
    let attended: Value = serde_json::from_slice(&payload).unwrap();
    let victim_id = str_of(&attended["data"]["attendee"]["id"]);
    let _ = owner.client.expect_push("attendee-joined").await;
    // From here on the victim never reads. Fill everything between us and it.
    let blob = "c".repeat(60_000);
    loop {
        let data = serde_json::json!({"to": victim_id, "candidate": blob});
        let frame = owner.client.request("icecandidate", data).await;
        if frame["event"] == "alert" {
            assert_eq!(alert_code(&frame), "rate_limited", "{frame}");
            break;
        }
    }
    let server_side = server_socket(&app, &victim);
    let kick = serde_json::json!({"attendee_id": victim_id});
    owner.client.ok("kick", kick, "kicked").await;
    within_for(CLOSE_BOUND, "the kicked connection's TCP to end", async {
        while tcp_established(&server_side) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

/// The server's end of `raw`'s connection, as /proc/net/tcp names it.
fn server_socket(app: &TestApp, raw: &Raw) -> String {
    let local = raw.stream.local_addr().unwrap();
    format!(
        "{}:{:04X} {}:{:04X}",
        hex_ip(&app.addr.ip()),
        app.addr.port(),
        hex_ip(&local.ip()),
        local.port()
    )
}

fn hex_ip(ip: &std::net::IpAddr) -> String {
    let std::net::IpAddr::V4(v4) = ip else {
        panic!("loopback IPv4 only")
    };
    format!("{:08X}", u32::from_le_bytes(v4.octets()))
}

/// Whether /proc/net/tcp lists `socket` as established (state 01). Polled: the kernel
/// has no event for another socket's state.
fn tcp_established(socket: &str) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3 && format!("{} {}", fields[1], fields[2]) == socket && fields[3] == "01"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_reaches_sockets_that_wait_on_a_pin_hash() {
    let mut app = spawn_app_with(|c| {
        c.server.shutdown_grace_secs = 1;
        c.limits.pin_checks_per_ip = 1000;
        c.limits.pin_failures = 1000;
    })
    .await;
    let owner = app.create_workspace(Some("2468")).await;
    let invite = owner.invite();
    // Many more PIN checks than cores: most of them wait for a hash when shutdown comes.
    let mut waiting = Vec::new();
    for n in 0..24 {
        let mut client = app.client_from(20 + n).await;
        let data = attend_data(&invite, Some("0000"), "Guess");
        client
            .send(serde_json::json!({"event": "attend", "id": 1, "data": data}))
            .await;
        waiting.push(client);
    }
    app.trigger_shutdown();
    for client in &mut waiting {
        let code = within("a close frame", client.closed_with()).await;
        assert_eq!(code, Some(1001));
    }
}

#[tokio::test]
async fn an_upgrade_the_http_layer_does_not_take_for_one_is_refused_400() {
    let app = spawn_app().await;
    // `Upgrade` naming another protocol beside websocket: RFC 6455's handshake check
    // passes, but the HTTP layer serves it as a plain request, whose connection could
    // not be handed over. Answered 400, never a 101 left hanging.
    let answer = reqwest::Client::new()
        .get(format!("{}/ws", app.http_url))
        .header("connection", "upgrade")
        .header("upgrade", "websocket, h2c")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 400);
    // A real upgrade is served as ever.
    let mut client = Client::connect(&app.ws_url).await;
    client
        .ok("create", serde_json::json!({"name": "After"}), "created")
        .await;
}
