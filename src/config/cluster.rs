//! `[cluster]`: several Switchboard nodes sharing one Redis (DESIGN.md, "Cluster").
//! Unset `redis_url` means one node on its own, as before.

use super::{Config, ConfigError, StorageBackend};
use serde::Deserialize;
use std::fmt;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `redis://[:password@]host:port[/db]` (or `rediss://`, `unix://`); env
    /// `REDIS_URL`. It may hold a password, so it is never printed whole.
    pub redis_url: Option<String>,
    /// This node's name in logs, metrics and the admin API: 1 to 64 characters of
    /// `[A-Za-z0-9._-]`. Unset: a random one at each start.
    pub node_id: Option<String>,
    /// How often the node tells the others it is alive. A node silent for three times
    /// this long is dead.
    pub heartbeat_secs: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            redis_url: None,
            node_id: None,
            heartbeat_secs: 2,
        }
    }
}

impl fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("redis_url", &self.redis_url.as_deref().map(redacted))
            .field("node_id", &self.node_id)
            .field("heartbeat_secs", &self.heartbeat_secs)
            .finish()
    }
}

impl ClusterConfig {
    /// Whether this node is one of a cluster.
    pub fn enabled(&self) -> bool {
        self.redis_url.is_some()
    }

    /// The Redis address without its password, for log lines.
    pub fn redis_display(&self) -> Option<String> {
        self.redis_url.as_deref().map(redacted)
    }
}

/// `scheme://host:port/db` without the user and password.
fn redacted(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://{rest}"),
        _ => url.to_string(),
    }
}

/// A cluster keeps its workspaces in Redis, and every node must sign tokens with the
/// same key; a Redis backend without Redis has nowhere to write.
pub(super) fn check(config: &Config) -> Result<(), ConfigError> {
    let cluster = &config.cluster;
    let redis = config.storage.backend == StorageBackend::Redis;
    match (&cluster.redis_url, redis) {
        (Some(_), false) => {
            return Err(invalid(
                "storage.backend",
                "a cluster ([cluster] redis_url or REDIS_URL) keeps its workspaces in Redis: \
                 set backend = \"redis\"",
            ))
        }
        (None, true) => {
            return Err(invalid(
                "cluster.redis_url",
                "backend = \"redis\" needs [cluster] redis_url (or REDIS_URL)",
            ))
        }
        _ => {}
    }
    if let Some(url) = &cluster.redis_url {
        let known = ["redis://", "rediss://", "unix://", "redis+unix://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            return Err(invalid(
                "cluster.redis_url",
                "is not a redis://, rediss:// or unix:// address",
            ));
        }
        if config.secrets.jwt.is_none() {
            return Err(invalid(
                "cluster.redis_url",
                "every node of a cluster must sign with the same MAGICK_TOKEN: set it in the \
                 environment of each node",
            ));
        }
    }
    if cluster.enabled() && config.compat.bootstrap.seed != 0 {
        return Err(invalid(
            "compat.bootstrap.seed",
            "seeded /join ids would repeat on every node of a cluster: leave seed = 0",
        ));
    }
    if let Some(id) = &cluster.node_id {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
        if id.is_empty() || id.len() > 64 || !id.bytes().all(allowed) {
            return Err(invalid(
                "cluster.node_id",
                "is 1 to 64 characters of letters, digits, '.', '_' and '-'",
            ));
        }
    }
    if cluster.heartbeat_secs == 0 {
        return Err(invalid("cluster.heartbeat_secs", "must be at least 1"));
    }
    Ok(())
}

fn invalid(key: &'static str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn cluster(url: Option<&str>, backend: StorageBackend) -> Config {
        let mut config = Config::default();
        config.cluster.redis_url = url.map(str::to_string);
        config.storage.backend = backend;
        config.secrets.jwt = Some(Secret::new("k".repeat(32)));
        config
    }

    #[test]
    fn a_cluster_needs_the_redis_backend_and_the_backend_needs_redis() {
        let url = Some("redis://127.0.0.1:6379");
        assert!(check(&cluster(url, StorageBackend::Redis)).is_ok());
        let sled = check(&cluster(url, StorageBackend::Sled)).unwrap_err();
        assert!(sled.to_string().contains("storage.backend"), "{sled}");
        let memory = check(&cluster(url, StorageBackend::Memory)).unwrap_err();
        assert!(memory.to_string().contains("storage.backend"), "{memory}");
        let alone = check(&cluster(None, StorageBackend::Redis)).unwrap_err();
        assert!(alone.to_string().contains("REDIS_URL"), "{alone}");
        assert!(check(&cluster(None, StorageBackend::Sled)).is_ok());
    }

    #[test]
    fn a_cluster_refuses_bad_urls_ids_and_a_missing_shared_secret() {
        let url = Some("redis://127.0.0.1:6379");
        let http = check(&cluster(Some("http://x"), StorageBackend::Redis)).unwrap_err();
        assert!(http.to_string().contains("cluster.redis_url"));
        let mut unsigned = cluster(url, StorageBackend::Redis);
        unsigned.secrets.jwt = None;
        assert!(check(&unsigned)
            .unwrap_err()
            .to_string()
            .contains("MAGICK_TOKEN"));
        for bad in ["", "has space", "a/b", &"x".repeat(65)] {
            let mut named = cluster(url, StorageBackend::Redis);
            named.cluster.node_id = Some(bad.to_string());
            assert!(check(&named).is_err(), "{bad:?}");
        }
        let mut still = cluster(url, StorageBackend::Redis);
        still.cluster.heartbeat_secs = 0;
        assert!(check(&still).is_err());
    }

    #[test]
    fn the_password_never_prints() {
        let config = ClusterConfig {
            redis_url: Some("redis://:hunter2@db:6379/0".into()),
            ..ClusterConfig::default()
        };
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(config.redis_display().unwrap(), "redis://db:6379/0");
    }
}
