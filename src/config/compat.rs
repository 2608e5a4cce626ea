//! `[compat.*]`: the endpoints that speak the protocols of the servers Switchboard
//! replaces (COMPAT.md). Each is switched on here; the secrets they need come from the
//! environment only.

use super::{Config, ConfigError, Secret};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompatConfig {
    pub socketio: SocketIoConfig,
    pub entrance: EntranceConfig,
    pub signal_fire: SignalFireConfig,
    pub bootstrap: BootstrapConfig,
    pub peero: PeeroConfig,
}

/// COMPAT.md 1: Socket.IO v2 over Engine.IO 3, for the webRTCWorkspaces client. On by
/// default: it serves the same workspaces, with the same checks, as the native protocol.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SocketIoConfig {
    pub enabled: bool,
    /// The path on the main listener; socket.io-client's default is `/socket.io/`.
    pub path: String,
    /// The open packet's `pingInterval`: how often clients ping (milliseconds).
    pub ping_interval_ms: u64,
    /// The open packet's `pingTimeout`: a client silent for the interval plus this
    /// long is dropped (milliseconds).
    pub ping_timeout_ms: u64,
    /// Engine.IO sessions open at once on this node; a handshake past it gets 503.
    /// Polling sessions hold no socket, so this is what bounds them.
    pub max_sessions: usize,
}

/// COMPAT.md 1b: the n2n-overlay/foglet entrance events on the Socket.IO endpoint. Off
/// by default: entrance rooms are open to anyone who knows their name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntranceConfig {
    pub enabled: bool,
}

/// COMPAT.md 2: signal-fire 0.x peer-id routing. Off by default: it lets anonymous
/// clients use the server as a relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalFireConfig {
    pub enabled: bool,
    /// The path on the main listener.
    pub path: String,
    /// A second listener where every WebSocket upgrade, on any path, speaks signal-fire.
    pub port: Option<u16>,
    /// Tell a sender `{"type":"error","code":"unknown_receiver"}` instead of dropping
    /// its frame silently.
    pub notify_unknown: bool,
}

/// COMPAT.md 3: webrtc-bootstrap 4.4.1, one secret-protected root peer.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BootstrapConfig {
    /// `None`: on exactly when `BOOTSTRAP_SECRET` is set. `Some(true)` also reads the
    /// original server's `SECRET`.
    pub enabled: Option<bool>,
    /// Non-zero: `/join` ids follow the original's seeded sequence (COMPAT.md 3).
    pub seed: i64,
    /// Each `/join` socket is closed this long after it connected.
    pub timeout_secs: u64,
    /// The interval of the root's `"heartbeat"` frames.
    pub heartbeat_secs: u64,
}

/// COMPAT.md 4: Peero peer discovery. Off by default, like signal-fire.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeeroConfig {
    pub enabled: bool,
    pub path: String,
    /// A second listener where any path speaks Peero (the original used 8080).
    pub port: Option<u16>,
}

impl Default for SocketIoConfig {
    fn default() -> Self {
        SocketIoConfig {
            enabled: true,
            path: "/socket.io/".into(),
            ping_interval_ms: 25_000,
            ping_timeout_ms: 20_000,
            max_sessions: 100_000,
        }
    }
}

impl Default for SignalFireConfig {
    fn default() -> Self {
        SignalFireConfig {
            enabled: false,
            path: "/signal-fire".into(),
            port: None,
            notify_unknown: false,
        }
    }
}

impl Default for BootstrapConfig {
    fn default() -> Self {
        BootstrapConfig {
            enabled: None,
            seed: 0,
            timeout_secs: 30,
            heartbeat_secs: 15,
        }
    }
}

impl Default for PeeroConfig {
    fn default() -> Self {
        PeeroConfig {
            enabled: false,
            path: "/peero".into(),
            port: None,
        }
    }
}

/// Checks the compatible endpoints' settings and settles the bootstrap secret that
/// turns its endpoint on (COMPAT.md 3); part of [`Config::prepare`].
pub(crate) fn check(config: &mut Config) -> Result<(), ConfigError> {
    let compat = &config.compat;
    let socketio = &compat.socketio;
    if socketio.enabled {
        check_path("compat.socketio.path", &socketio.path)?;
    }
    for (key, value) in [
        (
            "compat.socketio.ping_interval_ms",
            socketio.ping_interval_ms,
        ),
        ("compat.socketio.ping_timeout_ms", socketio.ping_timeout_ms),
        ("compat.socketio.max_sessions", socketio.max_sessions as u64),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                key,
                message: "must be at least 1".into(),
            });
        }
    }
    if compat.entrance.enabled && !socketio.enabled {
        return Err(ConfigError::Invalid {
            key: "compat.entrance.enabled",
            message: "needs compat.socketio.enabled: the entrance events are Socket.IO events"
                .into(),
        });
    }
    if compat.signal_fire.enabled {
        check_path("compat.signal_fire.path", &compat.signal_fire.path)?;
    }
    if compat.peero.enabled {
        check_path("compat.peero.path", &compat.peero.path)?;
    }
    let bootstrap = &compat.bootstrap;
    for (key, value) in [
        ("compat.bootstrap.timeout_secs", bootstrap.timeout_secs),
        ("compat.bootstrap.heartbeat_secs", bootstrap.heartbeat_secs),
    ] {
        if value == 0 {
            return Err(ConfigError::Invalid {
                key,
                message: "must be at least 1".into(),
            });
        }
    }
    let both = compat.signal_fire.enabled && compat.peero.enabled;
    if both && compat.signal_fire.path == compat.peero.path {
        return Err(ConfigError::Invalid {
            key: "compat.peero.path",
            message: "must differ from compat.signal_fire.path".into(),
        });
    }
    let secrets = &mut config.secrets;
    secrets.bootstrap_root = bootstrap_secret(
        &compat.bootstrap,
        secrets.bootstrap.as_ref(),
        secrets.legacy_bootstrap.as_ref(),
    )?;
    Ok(())
}

/// The bootstrap secret that turns the endpoint on: `BOOTSTRAP_SECRET`, or, when the
/// file enables the endpoint, the original server's `SECRET`. Refused unless it is at
/// least 8 ASCII letters and digits (it is a path segment, compared in constant time).
fn bootstrap_secret(
    config: &BootstrapConfig,
    bootstrap_secret: Option<&Secret>,
    legacy_secret: Option<&Secret>,
) -> Result<Option<Secret>, ConfigError> {
    let secret = match config.enabled {
        Some(false) => return Ok(None),
        Some(true) => bootstrap_secret
            .or(legacy_secret)
            .ok_or(ConfigError::Invalid {
                key: "compat.bootstrap.enabled",
                message: "needs BOOTSTRAP_SECRET (or SECRET) in the environment".into(),
            })?,
        None => match bootstrap_secret {
            Some(secret) => secret,
            None => return Ok(None),
        },
    };
    let value = secret.expose();
    if value.len() < 8 || !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ConfigError::Env {
            name: "BOOTSTRAP_SECRET",
            message: "must be at least 8 letters and digits (it is part of the root's path)".into(),
        });
    }
    Ok(Some(secret.clone()))
}

/// A path an endpoint is served at: absolute, and not one of the server's own.
fn check_path(key: &'static str, path: &str) -> Result<(), ConfigError> {
    const TAKEN: [&str; 5] = ["/", "/ws", "/healthz", "/iceservers", "/join"];
    if !path.starts_with('/') || path.len() < 2 || TAKEN.contains(&path) {
        return Err(ConfigError::Invalid {
            key,
            message: format!("{path:?} must start with / and not be one of {TAKEN:?}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> Option<Secret> {
        Some(Secret::new(s))
    }

    #[test]
    fn bootstrap_is_on_exactly_when_its_secret_is_set() {
        let auto = BootstrapConfig::default();
        assert!(bootstrap_secret(&auto, None, secret("legacy123").as_ref())
            .unwrap()
            .is_none());
        assert!(bootstrap_secret(&auto, secret("abcd1234").as_ref(), None)
            .unwrap()
            .is_some());
        let off = BootstrapConfig {
            enabled: Some(false),
            ..auto.clone()
        };
        assert!(bootstrap_secret(&off, secret("abcd1234").as_ref(), None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn enabled_reads_the_originals_secret_and_refuses_to_run_without_one() {
        let on = BootstrapConfig {
            enabled: Some(true),
            ..BootstrapConfig::default()
        };
        let found = bootstrap_secret(&on, None, secret("legacy123").as_ref()).unwrap();
        assert_eq!(found.unwrap().expose(), "legacy123");
        let refused = bootstrap_secret(&on, None, None).unwrap_err();
        assert!(refused.to_string().contains("BOOTSTRAP_SECRET"));
    }

    #[test]
    fn short_or_non_alphanumeric_secrets_are_refused() {
        let auto = BootstrapConfig::default();
        for bad in ["short1", "has/slash1", "with space"] {
            assert!(bootstrap_secret(&auto, secret(bad).as_ref(), None).is_err());
        }
    }
}
