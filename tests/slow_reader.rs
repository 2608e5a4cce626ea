//! Slow readers (PROTOCOL.md 1.1, "Slow targets"): a sender that outpaces its target is
//! told `rate_limited` once the target's queue holds half of `max_outbound_bytes`, and a
//! target that keeps reading is never evicted by someone else's traffic; a consumer
//! that stops reading is closed 1008 after `stall_secs`. Nobody else slows down.

mod common;

use common::*;
use serde_json::{json, Value};

const PAYLOAD: usize = 64 * 1024;
const MAX_OUTBOUND: usize = 512 * 1024;

async fn spawn() -> TestApp {
    spawn_app_with(|c| {
        c.limits.max_message_bytes = 2 * PAYLOAD;
        c.limits.max_outbound_bytes = MAX_OUTBOUND;
        c.limits.requests_per_second = 100_000;
        c.limits.request_burst = 100_000;
        c.limits.stall_secs = 2;
    })
    .await
}

fn candidate(to: &str, seq: usize, blob: &str) -> Value {
    json!({"to": to, "candidate": {"seq": seq, "blob": blob}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_stops_reading_is_closed_with_1008_and_goes_offline() {
    let app = spawn().await;
    let (mut owner, [slow, mut carol]) = app.workspace_with(["Slow", "Carol"]).await;
    let slow_id = slow.id();
    let carol_id = carol.id();
    // From here on, nobody reads Slow's socket until the end.
    let mut slow = slow.client;
    let blob = "b".repeat(PAYLOAD);

    // Loopback buffers hold several MB: keep pushing until the server refuses to
    // queue more for Slow, which the sender sees as `rate_limited`.
    let mut dropped_after = None;
    for seq in 0..3000 {
        let frame = owner
            .client
            .request("icecandidate", candidate(&slow_id, seq, &blob))
            .await;
        if frame["event"] == "alert" {
            assert_eq!(alert_code(&frame), "rate_limited", "{frame}");
            dropped_after = Some(seq);
            break;
        }
        assert_eq!(frame["event"], "sent", "{frame}");
        // Meanwhile, Carol is served promptly.
        if seq % 25 == 0 {
            let small = json!({"to": carol_id, "candidate": {"seq": seq}});
            owner.client.ok("icecandidate", small, "sent").await;
            let got = carol.client.expect_push("icecandidate").await;
            assert_eq!(got["candidate"]["seq"], seq);
        }
    }
    let dropped_after = dropped_after.expect("the server queued without bound");
    assert!(
        dropped_after * PAYLOAD > MAX_OUTBOUND / 2,
        "refused only after half the queue limit was sent ({dropped_after} frames)"
    );
    // Slow still reads nothing: after `stall_secs` the server gives up on it.

    let offline = carol.client.expect_push("attendee-offline").await;
    assert_eq!(offline["attendee_id"], json!(slow_id));
    let listed = carol.list_attendees().await;
    assert_eq!(find(&listed, &slow_id)["online"], false);

    // Reading at last, Slow finds what was delivered, then the 1008, unless the
    // server had to cut its TCP connection before Slow read that far.
    let code = within_for(
        std::time::Duration::from_secs(30),
        "the slow reader's close",
        slow.closed_with(),
    )
    .await;
    assert!(
        matches!(code, Some(1008) | None),
        "closed for policy: {code:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sender_that_outpaces_its_target_is_told_to_slow_down_and_the_target_stays() {
    let app = spawn_app_with(|c| {
        c.limits.max_message_bytes = 2 * PAYLOAD;
        c.limits.max_outbound_bytes = MAX_OUTBOUND;
        c.limits.requests_per_second = 100_000;
        c.limits.request_burst = 100_000;
    })
    .await;
    let (mut owner, [mut target]) = app.acquainted_workspace(["Target"]).await;
    let target_id = target.id();
    let blob = "b".repeat(PAYLOAD);
    // The target reads nothing for now; the sender is refused before the target is
    // in any danger.
    let mut sent = 0;
    loop {
        let frame = owner
            .client
            .request("icecandidate", candidate(&target_id, sent, &blob))
            .await;
        if frame["event"] == "alert" {
            assert_eq!(alert_code(&frame), "rate_limited", "{frame}");
            break;
        }
        sent += 1;
    }
    // The target catches up with everything sent, in order, and is still there.
    for seq in 0..sent {
        let got = target.client.recv_event("icecandidate").await;
        assert_eq!(got["candidate"]["seq"], seq);
    }
    // The refused signal, sent again, goes through.
    let again = candidate(&target_id, sent, &blob);
    owner.client.ok("icecandidate", again, "sent").await;
    let got = target.client.recv_event("icecandidate").await;
    assert_eq!(got["candidate"]["seq"], sent);
    let listed = owner.list_attendees().await;
    assert_eq!(find(&listed, &target_id)["online"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_keeps_up_is_never_dropped() {
    let app = spawn().await;
    let (mut owner, [mut reader]) = app.acquainted_workspace(["Reader"]).await;
    let reader_id = reader.id();
    let blob = "b".repeat(PAYLOAD);

    // 25 MB in all, a hundred times the queue limit, but never more than two
    // frames waiting for the reader.
    let mut seq = 0;
    for _ in 0..200 {
        for _ in 0..2 {
            let data = candidate(&reader_id, seq, &blob);
            owner.client.ok("icecandidate", data, "sent").await;
            seq += 1;
        }
        for expected in seq - 2..seq {
            let got = reader.client.recv_event("icecandidate").await;
            assert_eq!(got["candidate"]["seq"], expected);
            assert_eq!(
                got["candidate"]["blob"].as_str().map(str::len),
                Some(PAYLOAD)
            );
        }
    }
    let listed = owner.list_attendees().await;
    assert_eq!(find(&listed, &reader_id)["online"], true);
    assert!(
        owner.client.buffered().is_empty(),
        "no presence change: {:?}",
        owner.client.buffered()
    );
}
