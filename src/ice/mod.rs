//! STUN/TURN servers handed to members, as standard RTCIceServer objects.
//!
//! Only members may ask (TURN credentials cost money once a provider is configured);
//! both the `iceservers` event and `GET /iceservers` come here.

use crate::config::IceConfig;
use crate::error::Result;
use serde::Serialize;

/// How long a STUN-only answer may be cached by a client: STUN needs no credentials.
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

pub struct Ice {
    stun: Option<IceServer>,
}

impl Ice {
    pub fn new(config: &IceConfig) -> Ice {
        let stun = (!config.stun_urls.is_empty()).then(|| IceServer {
            urls: config.stun_urls.clone(),
            username: None,
            credential: None,
        });
        Ice { stun }
    }

    /// The servers for one member. Async because TURN providers answer over the network.
    pub async fn servers(&self, _attendee: &str) -> Result<IceServers> {
        Ok(IceServers {
            ice_servers: self.stun.iter().cloned().collect(),
            ttl: STUN_TTL_SECS,
        })
    }
}
