//! Operations (docs/operations.md): `/metrics` scraped and parsed, health, the admin API
//! and its command-line client, and the drain.

#[path = "../common/mod.rs"]
mod common;

mod admin;
mod cli;
mod drain;
mod metrics;

use common::*;
use serde_json::Value;
use switchboard::config::{Config, Secret};

/// The admin token of these tests.
const TOKEN: &str = "operator-token-for-tests-0123456789";

/// A server with the admin API on.
async fn with_admin(mutate: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|c| {
        c.secrets.admin = Some(Secret::new(TOKEN));
        mutate(c);
    })
    .await
}

/// An HTTP request to `app` at `path`, with `token` as bearer when given.
fn request(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let builder = reqwest::Client::new().request(method, format!("{}{path}", app.http_url));
    match token {
        Some(token) => builder.bearer_auth(token),
        None => builder,
    }
}

/// Sends `builder`; returns the status and the JSON body (`Null` when not JSON).
async fn answer(builder: reqwest::RequestBuilder) -> (u16, Value) {
    let response = within("the HTTP answer", builder.send())
        .await
        .expect("an HTTP answer");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `GET path` with the admin token.
async fn admin_get(app: &TestApp, path: &str) -> (u16, Value) {
    answer(request(app, reqwest::Method::GET, path, Some(TOKEN))).await
}
