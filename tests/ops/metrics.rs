//! `/metrics`: the Prometheus text format, parsed by a Prometheus parser, with the
//! series docs/operations.md promises, counting what the test did.

use super::*;
use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::json;

/// Scrapes `url` (`http://host:port`) and parses the answer.
async fn scrape(url: &str) -> Scrape {
    let response = within("/metrics", reqwest::get(format!("{url}/metrics")))
        .await
        .expect("a /metrics answer");
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let text = response.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    Scrape::parse(lines).expect("the Prometheus text format")
}

/// The value of the sample `name` whose labels include `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let sample: &Sample = scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"));
    match &sample.value {
        Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
        Metric::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        Metric::Summary(_) => panic!("{name} is a summary"),
    }
}

#[tokio::test]
async fn a_scrape_counts_connections_workspaces_members_relays_and_alerts() {
    let app = spawn_app().await;
    let (mut owner, [mut ada]) = app.acquainted_workspace(["Ada"]).await;
    let ring = json!({"to": ada.id(), "call": "c1", "sdp": {"type": "offer", "sdp": "v=0"}});
    owner.client.ok("ring", ring, "sent").await;
    ada.client.expect_push("ring").await;
    let wrong = owner
        .client
        .alert("kick", json!({"attendee_id": "nobody"}))
        .await;
    assert_eq!(wrong, "unknown_attendee");

    let m = scrape(&app.http_url).await;
    let native_ws = [("protocol", "native"), ("transport", "websocket")];
    assert_eq!(value(&m, "switchboard_connections", &native_ws), 2.0);
    let polling = [("protocol", "socketio"), ("transport", "polling")];
    assert_eq!(value(&m, "switchboard_connections", &polling), 0.0);
    assert_eq!(value(&m, "switchboard_workspaces", &[]), 1.0);
    assert_eq!(
        value(&m, "switchboard_members", &[("state", "online")]),
        2.0
    );
    assert_eq!(
        value(&m, "switchboard_members", &[("state", "offline")]),
        0.0
    );
    let native = [("protocol", "native")];
    assert_eq!(
        value(&m, "switchboard_relayed_messages_total", &native),
        1.0
    );
    assert!(value(&m, "switchboard_relayed_bytes_total", &native) > 20.0);
    let code = [("code", "unknown_attendee")];
    assert_eq!(value(&m, "switchboard_alerts_total", &code), 1.0);
    let creates = [("protocol", "native"), ("event", "create")];
    assert_eq!(value(&m, "switchboard_requests_total", &creates), 1.0);
    // create and attend were written and flushed.
    assert!(value(&m, "switchboard_store_write_seconds", &[]) >= 2.0);
    assert!(value(&m, "switchboard_store_flush_seconds", &[]) >= 2.0);
    let dropped = [("protocol", "peero"), ("reason", "malformed")];
    assert_eq!(value(&m, "switchboard_dropped_frames_total", &dropped), 0.0);

    ada.client.close().await;
    owner.client.recv_event("attendee-offline").await;
    let m = scrape(&app.http_url).await;
    assert_eq!(
        value(&m, "switchboard_members", &[("state", "offline")]),
        1.0
    );
    assert_eq!(value(&m, "switchboard_connections", &native_ws), 1.0);
}

#[tokio::test]
async fn refusals_count_by_the_setting_of_their_limit_and_pin_failures_apart() {
    let app = spawn_app_with(|c| c.limits.creates_per_minute = 1).await;
    let owner = app.create_workspace(Some("2468")).await;
    let mut again = app.client().await;
    assert_eq!(again.alert("create", json!({})).await, "rate_limited");
    let (_, wrong) = app.try_attend(&owner.invite(), Some("1357"), "Eve").await;
    assert_eq!(alert_code(&wrong), "wrong_pin");

    let m = scrape(&app.http_url).await;
    let limit = [("limit", "creates_per_minute")];
    assert_eq!(value(&m, "switchboard_rate_limited_total", &limit), 1.0);
    let untouched = [("limit", "pin_workspace_failures")];
    assert_eq!(value(&m, "switchboard_rate_limited_total", &untouched), 0.0);
    assert_eq!(value(&m, "switchboard_pin_failures_total", &[]), 1.0);
}

#[tokio::test]
async fn engine_io_sessions_count_under_polling() {
    let app = spawn_app().await;
    let open = reqwest::get(format!(
        "{}/socket.io/?EIO=3&transport=polling",
        app.http_url
    ))
    .await
    .unwrap();
    assert_eq!(open.status(), 200);
    let m = scrape(&app.http_url).await;
    let polling = [("protocol", "socketio"), ("transport", "polling")];
    assert_eq!(value(&m, "switchboard_connections", &polling), 1.0);
}

#[tokio::test]
async fn metrics_listen_moves_metrics_to_a_listener_of_their_own() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|c| c.metrics.listen = Some(format!("127.0.0.1:{port}"))).await;
    let on_main = reqwest::get(format!("{}/metrics", app.http_url))
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let m = scrape(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(value(&m, "switchboard_workspaces", &[]), 0.0);
    // Load balancers probe the serving port: health stays there.
    let ready = reqwest::get(format!("{}/readyz", app.http_url))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
