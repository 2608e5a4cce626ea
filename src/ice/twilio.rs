//! Twilio's Network Traversal Service: one token for everyone, cached until half its
//! ttl has passed, refreshed by a single upstream call however many members ask at once.
//!
//! `POST {base}/2010-04-01/Accounts/{sid}/Tokens.json` with HTTP Basic auth and the form
//! field `Ttl`; Twilio answers 201 with `ice_servers` and `ttl` (a string).

use super::IceServer;
use crate::config::Secret;
use crate::error::{Error, Outage};
use serde::Deserialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one upstream call may take before members are told `unavailable`.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Twilio {
    http: reqwest::Client,
    url: String,
    sid: Secret,
    token: Secret,
    ttl_secs: u64,
    cached: Mutex<Option<Token>>,
    /// Held by the one task that refreshes; the others wait for its answer.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Token {
    servers: Vec<IceServer>,
    fetched: Instant,
    ttl: Duration,
}

#[derive(Deserialize)]
struct Answer {
    ice_servers: Vec<AnswerServer>,
    ttl: String,
}

#[derive(Deserialize)]
struct AnswerServer {
    url: Option<String>,
    urls: Option<Urls>,
    username: Option<String>,
    credential: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Urls {
    One(String),
    Many(Vec<String>),
}

impl Twilio {
    pub fn new(base_url: &str, sid: Secret, token: Secret, ttl_secs: u64) -> Twilio {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Tokens.json",
            base_url.trim_end_matches('/'),
            sid.expose()
        );
        Twilio {
            http: reqwest::Client::builder()
                .timeout(UPSTREAM_TIMEOUT)
                .build()
                .unwrap_or_default(),
            url,
            sid,
            token,
            ttl_secs,
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The servers and the seconds they stay valid. A token past half its ttl is
    /// refreshed; if that fails while it is still valid, it is served meanwhile.
    pub async fn servers(&self) -> Result<(Vec<IceServer>, u64), Error> {
        if let Some(fresh) = self.cached(|t| t.fetched.elapsed() < t.ttl / 2) {
            return Ok(fresh);
        }
        let _refreshing = self.refreshing.lock().await;
        if let Some(fresh) = self.cached(|t| t.fetched.elapsed() < t.ttl / 2) {
            return Ok(fresh);
        }
        match self.fetch().await {
            Ok(token) => {
                let answer = remaining(&token);
                *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(token);
                Ok(answer)
            }
            Err(reason) => {
                tracing::warn!("Twilio ICE servers unavailable: {reason}");
                self.cached(|t| t.fetched.elapsed() < t.ttl)
                    .ok_or(Error::Unavailable(Outage::TurnProvider))
            }
        }
    }

    fn cached(&self, usable: impl Fn(&Token) -> bool) -> Option<(Vec<IceServer>, u64)> {
        let cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().filter(|t| usable(t)).map(remaining)
    }

    /// One upstream call. The error says what went wrong without any secret in it.
    async fn fetch(&self) -> Result<Token, String> {
        let response = self
            .http
            .post(&self.url)
            .basic_auth(self.sid.expose(), Some(self.token.expose()))
            .form(&[("Ttl", self.ttl_secs.to_string())])
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("no answer within {UPSTREAM_TIMEOUT:?}")
                } else {
                    "request failed (connection)".to_string()
                }
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Twilio answered HTTP {}", status.as_u16()));
        }
        let answer: Answer = response
            .json()
            .await
            .map_err(|_| "Twilio's answer is not the documented JSON".to_string())?;
        let ttl: u64 = answer
            .ttl
            .trim()
            .parse()
            .map_err(|_| format!("Twilio's ttl {:?} is not a number", answer.ttl))?;
        let servers = answer.ice_servers.into_iter().filter_map(convert).collect();
        Ok(Token {
            servers,
            fetched: Instant::now(),
            ttl: Duration::from_secs(ttl),
        })
    }
}

fn remaining(token: &Token) -> (Vec<IceServer>, u64) {
    let left = token.ttl.saturating_sub(token.fetched.elapsed()).as_secs();
    (token.servers.clone(), left)
}

/// Twilio lists the legacy `url` and the standard `urls`; RTCIceServer wants `urls`.
fn convert(server: AnswerServer) -> Option<IceServer> {
    let urls = match (server.urls, server.url) {
        (Some(Urls::Many(urls)), _) if !urls.is_empty() => urls,
        (Some(Urls::One(url)), _) | (_, Some(url)) => vec![url],
        _ => return None,
    };
    Some(IceServer {
        urls,
        username: server.username,
        credential: server.credential,
    })
}
