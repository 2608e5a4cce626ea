//! Operations on a cluster: the admin API of any node reaches a workspace another node
//! owns, and `/metrics` has the cluster's series.

use super::*;
use serde_json::{json, Value};
use switchboard::config::Secret;

const TOKEN: &str = "operator-token-for-cluster-tests-0123";

async fn admin(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", app.http_url))
        .bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = within("the admin API", request.send())
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_of_any_node_inspects_and_kicks_where_the_owner_is() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 2, |_, c| c.secrets.admin = Some(Secret::new(TOKEN))).await;
    let mut owner = apps[0].create_workspace(None).await;
    let mut ada = apps[1].attend(&owner.invite(), None, "Ada").await;
    owner.client.recv_event("attendee-joined").await;
    let wid = str_of(&owner.workspace["id"]);

    let (status, detail) = admin(
        &apps[1],
        reqwest::Method::GET,
        &format!("/admin/api/workspaces/{wid}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["online"], 2, "{detail}");
    let protocols: Vec<&Value> = detail["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["protocol"])
        .collect();
    assert_eq!(protocols, [&json!("native"), &json!("native")]);

    let kick = json!({"attendee_id": ada.id(), "ban": true});
    let path = format!("/admin/api/workspaces/{wid}/kick");
    let (status, body) = admin(&apps[1], reqwest::Method::POST, &path, Some(kick)).await;
    assert_eq!(status, 200, "{body}");
    ada.client.expect_push("kicked").await;
    let left = owner.client.recv_event("attendee-left").await;
    assert_eq!(left["attendee_id"], ada.attendee["id"]);
    let invite = body["invite"]
        .as_str()
        .expect("a ban answers the new invite");
    // The banned address is refused on every node.
    let (_again, refused) = apps[1].try_attend(invite, None, "Ada").await;
    assert_eq!(alert_code(&refused), "forbidden", "{refused}");

    let missing = "/admin/api/workspaces/_nosuchroom";
    let (status, _) = admin(&apps[1], reqwest::Method::GET, missing, None).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_redis_the_bus_and_the_nodes() {
    let redis = RedisServer::start().await;
    let apps = nodes(&redis, 2, |_, _| {}).await;
    let owner = apps[0].create_workspace(None).await;
    let mut ada = apps[1].attend(&owner.invite(), None, "Ada").await;
    let mut owner = owner;
    owner.client.recv_event("attendee-joined").await;
    let candidate = json!({"to": owner.id(), "candidate": "x"});
    ada.client.ok("icecandidate", candidate, "sent").await;
    owner.client.recv_event("icecandidate").await;

    let text = reqwest::get(format!("{}/metrics", apps[1].http_url))
        .await
        .expect("a scrape")
        .text()
        .await
        .expect("its text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("Prometheus text");
    let value = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert_eq!(value("switchboard_cluster_redis_up"), 1.0);
    assert!(value("switchboard_cluster_bus_published_total") >= 1.0);
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "switchboard_cluster_bus_publish_seconds_count"));
    // The node list comes with the heartbeat; the node's own is there from its first.
    assert!(value("switchboard_cluster_nodes_alive") >= 1.0);
    assert!(scrape
        .samples
        .iter()
        .any(|s| s.metric == "switchboard_cluster_node_members"));
}
