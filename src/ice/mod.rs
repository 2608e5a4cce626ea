//! STUN/TURN servers handed to members, as standard RTCIceServer objects.
//!
//! Only members may ask: TURN relays cost money. Providers are combined in the order
//! configured. When a credentialed provider fails, members get `unavailable`, unless a
//! STUN list is configured too: then they get what did answer (calls without TURN
//! still work for most networks), and the failure is logged.

mod coturn;
mod twilio;

use crate::config::{Config, Provider};
use crate::core::counters::Counters;
use crate::error::{Error, Outage, Result};
use serde::Serialize;
use std::sync::Arc;

/// STUN needs no credentials; clients may keep the list this long.
const STUN_TTL_SECS: u64 = 86_400;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IceServers {
    pub ice_servers: Vec<IceServer>,
    /// Seconds until these credentials expire.
    pub ttl: u64,
}

enum Source {
    Stun(IceServer),
    Twilio(twilio::Twilio),
    Coturn(coturn::Coturn),
}

impl Source {
    /// The provider's name in `ice.provider`, as metrics label it.
    fn label(&self) -> &'static str {
        match self {
            Source::Stun(_) => "stun",
            Source::Twilio(_) => "twilio",
            Source::Coturn(_) => "coturn",
        }
    }
}

pub struct Ice {
    sources: Vec<Source>,
    /// `switchboard_ice_requests_total{provider}` and `_failures_total`.
    counters: Arc<Counters>,
}

impl Ice {
    /// `config` must have been `prepare`d: every provider has its secrets.
    pub fn new(config: &Config, counters: Arc<Counters>) -> Ice {
        let ice = &config.ice;
        let secrets = &config.secrets;
        let sources: Vec<Source> = ice
            .provider
            .list()
            .into_iter()
            .filter_map(|provider| match provider {
                Provider::Stun => Some(Source::Stun(IceServer {
                    urls: ice.stun_urls.clone(),
                    username: None,
                    credential: None,
                })),
                Provider::Twilio => Some(Source::Twilio(twilio::Twilio::new(
                    &ice.twilio_base_url,
                    secrets.twilio_sid.clone()?,
                    secrets.twilio_token.clone()?,
                    ice.twilio_ttl_secs,
                ))),
                Provider::Coturn => Some(Source::Coturn(coturn::Coturn::new(
                    secrets.turn.clone()?,
                    ice.turn_urls.clone(),
                    ice.turn_ttl_secs,
                ))),
            })
            .collect();
        // Each configured provider is a series from the start (0, not no data).
        for source in &sources {
            let provider = [("provider", source.label())];
            drop(counters.ice_requests.get_or_create(&provider));
            drop(counters.ice_failures.get_or_create(&provider));
        }
        Ice { sources, counters }
    }

    /// The servers for one member, and how long they stay valid.
    pub async fn servers(&self, attendee: &str) -> Result<IceServers> {
        let mut servers = Vec::new();
        let mut ttl = STUN_TTL_SECS;
        let mut failure = None;
        for source in &self.sources {
            let provider = [("provider", source.label())];
            self.counters.ice_requests.get_or_create(&provider).inc();
            match source {
                Source::Stun(stun) => servers.push(stun.clone()),
                Source::Coturn(coturn) => {
                    let (server, secs) = coturn.server(attendee, crate::auth::tokens::now_secs());
                    servers.push(server);
                    ttl = ttl.min(secs);
                }
                Source::Twilio(twilio) => match twilio.servers().await {
                    Ok((list, secs)) => {
                        servers.extend(list);
                        ttl = ttl.min(secs);
                    }
                    Err(e) => {
                        self.counters.ice_failures.get_or_create(&provider).inc();
                        failure = Some(e)
                    }
                },
            }
        }
        let has_stun = self.sources.iter().any(|s| matches!(s, Source::Stun(_)));
        match failure {
            Some(e) if !has_stun => Err(e),
            _ if servers.is_empty() => Err(Error::Unavailable(Outage::NoIceServers)),
            _ => Ok(IceServers {
                ice_servers: servers,
                ttl,
            }),
        }
    }
}
