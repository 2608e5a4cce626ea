//! Settings, layered: built-in defaults, then `config.toml`, then `.env`, then the
//! environment, then command-line flags (applied by `main`). Every key of the file is
//! known here; an unknown key is an error naming it, so a typo never silently becomes a
//! default.

mod cluster;
mod compat;
mod dev_secret;
mod load;
mod origins;
mod proxies;
mod secret;

pub use cluster::ClusterConfig;
pub use compat::{BootstrapConfig, CompatConfig, PeeroConfig, SignalFireConfig};
pub(crate) use dev_secret::FILE as DEV_SECRET_FILE;
pub use load::{load, ConfigError, Env};
pub use secret::Secret;

use ipnet::IpNet;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub workspace: WorkspaceConfig,
    pub storage: StorageConfig,
    pub limits: LimitsConfig,
    pub ice: IceConfig,
    pub tls: TlsConfig,
    pub compat: CompatConfig,
    pub metrics: MetricsConfig,
    pub cluster: ClusterConfig,
    /// Never read from config.toml: only from the environment or `.env`.
    #[serde(skip)]
    pub secrets: Secrets,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `None` means 127.0.0.1 in development and 0.0.0.0 in production.
    pub host: Option<String>,
    pub port: u16,
    /// Static files served at `/` (the demo app); `None` serves a short status page.
    /// Relative to the config file it is read from.
    pub public_dir: Option<PathBuf>,
    pub development: bool,
    pub ping_interval_secs: u64,
    /// A client that sends nothing (not even a pong) for this long is dropped.
    pub ping_timeout_secs: u64,
    /// How long shutdown (1001) or a drain (1012) waits for sockets to close before
    /// the process stops anyway.
    pub shutdown_grace_secs: u64,
    /// Worker threads: as many for HTTP, and as many again for the WebSockets and
    /// Engine.IO sessions (see `transport::runtime`); 0 means one per CPU core.
    pub workers: usize,
    /// WebSockets and Engine.IO sessions open at once on this node; 0 means 25 000 per
    /// worker thread. Past it, an upgrade or a session's handshake gets 503.
    pub max_connections: usize,
    /// TLS ends at a reverse proxy in front: production may then serve plain HTTP, and
    /// requests from a `trusted_proxies` peer name their client in `Forwarded` or
    /// `X-Forwarded-For` (see `http::client_addr`).
    pub behind_proxy: bool,
    /// CIDRs (or single addresses) of the reverse proxies whose forwarding headers are
    /// believed, as written in the file; default loopback.
    pub trusted_proxies: Vec<String>,
    /// `trusted_proxies` parsed, by [`Config::prepare`], which refuses a bad entry.
    #[serde(skip)]
    pub(crate) trusted_nets: Vec<IpNet>,
    /// Origins whose pages may connect (see `origins`); empty means any.
    pub allowed_origins: Vec<String>,
    /// `allowed_origins` normalised by [`Config::prepare`].
    #[serde(skip)]
    pub(crate) origins: Vec<String>,
}

impl ServerConfig {
    /// Connections (WebSockets and Engine.IO sessions) this node keeps open at most:
    /// `max_connections`, by default 25 000 per worker thread, what the HTTP server allows
    /// per worker for the connections it serves itself (an upgraded WebSocket leaves it,
    /// so Switchboard counts those).
    pub fn connection_cap(&self) -> usize {
        const PER_WORKER: usize = 25_000;
        if self.max_connections > 0 {
            return self.max_connections;
        }
        PER_WORKER * self.worker_threads()
    }

    /// `workers`, with 0 read as one per core.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => cores(),
            n => n,
        }
    }

    /// A relative `public_dir` read from the config file at `file` names a directory
    /// beside that file, wherever the server is started from.
    fn resolve_against(&mut self, file: &std::path::Path) {
        let base = file.parent().unwrap_or(std::path::Path::new(""));
        if let Some(dir) = self.public_dir.as_mut().filter(|d| d.is_relative()) {
            *dir = base.join(&*dir);
        }
    }

    /// What to warn of when `public_dir` is set but is no directory: `/` then serves the
    /// status page, which is otherwise easy to take for a broken demo app.
    fn public_dir_warning(&self) -> Option<String> {
        let dir = self.public_dir.as_ref().filter(|d| !d.is_dir())?;
        Some(format!(
            "server.public_dir {} is not a directory: / serves a status page instead of the \
             demo app (the SDK is still served at /switchboard.js)",
            dir.display()
        ))
    }

    /// Whether a request with this `Origin` header (`None` when absent) may connect:
    /// COMPAT.md's common rules, for every WebSocket endpoint.
    pub fn origin_allowed(&self, origin: Option<&[u8]>) -> bool {
        origins::allows(&self.origins, origin)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Env: ENABLE_HTTPS.
    pub enabled: bool,
    /// The certificate chain (certbot's `fullchain.pem`).
    pub cert: Option<PathBuf>,
    /// Its private key (certbot's `privkey.pem`).
    pub key: Option<PathBuf>,
    /// An extra chain appended to `cert`, for providers that ship it apart.
    pub ca: Option<PathBuf>,
    /// How often the files are checked for a renewal.
    pub reload_secs: u64,
    /// A plain-HTTP port that redirects to HTTPS; 0 means none.
    pub redirect_port: u16,
    /// Certificates from an ACME CA (Let's Encrypt) instead of `cert`/`key` files.
    pub acme: AcmeConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcmeConfig {
    /// The names to get a certificate for; empty means ACME is off.
    pub domains: Vec<String>,
    /// Where the CA sends expiry warnings.
    pub email: String,
    pub directory_url: String,
    /// A PEM root to trust for the directory itself (a private or test CA).
    pub directory_ca: Option<PathBuf>,
    /// Account key and certificates, so restarts reuse them instead of asking again.
    pub cache_dir: PathBuf,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        AcmeConfig {
            domains: Vec::new(),
            email: String::new(),
            directory_url: "https://acme-v02.api.letsencrypt.org/directory".into(),
            directory_ca: None,
            cache_dir: PathBuf::from("acme"),
        }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            enabled: false,
            cert: None,
            key: None,
            ca: None,
            reload_secs: 30,
            redirect_port: 0,
            acme: AcmeConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub session_ttl_secs: u64,
    /// How long past its `exp` a session token still re-attends a membership that exists
    /// (PROTOCOL.md 1.1, "Tokens and moderation").
    pub reattend_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkspaceConfig {
    pub id_len: usize,
    pub max_capacity: usize,
    pub untitled: String,
    pub anonymous_attendee: String,
    pub offline_ttl_secs: u64,
    pub idle_ttl_secs: u64,
    /// 0 means invites never expire.
    pub invite_ttl_secs: u64,
    /// How long `kick {ban: true}` refuses the kicked address at `attend`.
    pub ban_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Workspaces live as long as the process.
    Memory,
    /// The embedded default: survives restarts, one server per path.
    Sled,
    /// A cluster's shared store, at `[cluster] redis_url`.
    Redis,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_message_bytes: usize,
    pub creates_per_minute: u32,
    pub pin_failures: u32,
    pub pin_window_secs: u64,
    pub requests_per_second: u32,
    pub request_burst: u32,
    pub max_outbound_bytes: usize,
    /// A non-empty outbound queue that has not shrunk for this long is a stalled reader.
    pub stall_secs: u64,
    /// PIN checks of one client address in flight at once.
    pub pin_checks_per_ip: u32,
    /// Failures at one workspace, from all addresses, before each attempt is delayed.
    pub pin_workspace_failures: u32,
    /// Entrance offers (`offer.tid`) remembered for their 5 minutes at once; the
    /// oldest is forgotten first (COMPAT.md 1b).
    pub entrance_tids: usize,
    /// Admin API requests of one client address per minute, wrong tokens included.
    pub admin_requests_per_minute: u32,
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` of a listener of its own for `/metrics` (and `/healthz`, `/readyz`),
    /// e.g. on a private interface; unset, they are served on the main listener.
    pub listen: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IceConfig {
    /// Where ICE servers come from, combined in this order.
    pub provider: Providers,
    pub stun_urls: Vec<String>,
    /// Twilio's REST API; a loopback stand-in in tests.
    pub twilio_base_url: String,
    /// Lifetime asked of Twilio for its TURN credentials.
    pub twilio_ttl_secs: u64,
    /// coturn's `turn:`/`turns:` urls, with transport parameters.
    pub turn_urls: Vec<String>,
    /// Lifetime of the TURN REST credentials minted for coturn.
    pub turn_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// The `stun_urls`, no credentials.
    Stun,
    /// Network Traversal Service tokens, cached for everyone.
    Twilio,
    /// Your own coturn with `use-auth-secret`: credentials minted per member.
    Coturn,
}

/// `provider = "stun"` or `provider = ["coturn", "stun"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Providers {
    One(Provider),
    Many(Vec<Provider>),
}

impl Providers {
    pub fn list(&self) -> Vec<Provider> {
        match self {
            Providers::One(p) => vec![*p],
            Providers::Many(ps) => ps.clone(),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// `MAGICK_TOKEN`: the HS256 key for every token.
    pub jwt: Option<Secret>,
    /// `SALT_STRING`: mixed into every PIN hash as argon2's secret.
    pub salt: Option<Secret>,
    /// `TWILIO_ACCOUNT_SID` and `TWILIO_AUTH_TOKEN`.
    pub twilio_sid: Option<Secret>,
    pub twilio_token: Option<Secret>,
    /// `TURN_SECRET`: coturn's `static-auth-secret`.
    pub turn: Option<Secret>,
    /// `BOOTSTRAP_SECRET`, and the original webrtc-bootstrap server's `SECRET`.
    pub bootstrap: Option<Secret>,
    pub legacy_bootstrap: Option<Secret>,
    /// The root path's secret once [`Config::prepare`] settled it; `None`: the
    /// webrtc-bootstrap endpoint is off.
    pub bootstrap_root: Option<Secret>,
    /// `ADMIN_TOKEN`: the bearer token of the admin API and console; `None` turns
    /// them off (their paths answer 404).
    pub admin: Option<Secret>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: None,
            port: 9090,
            public_dir: None,
            development: true,
            ping_interval_secs: 15,
            ping_timeout_secs: 45,
            shutdown_grace_secs: 5,
            workers: 0,
            max_connections: 0,
            behind_proxy: false,
            trusted_proxies: proxies::DEFAULT.iter().map(|s| s.to_string()).collect(),
            trusted_nets: proxies::default_nets(),
            allowed_origins: Vec::new(),
            origins: Vec::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl_secs: 43_200,
            reattend_grace_secs: 604_800,
        }
    }
}

impl Default for WorkspaceConfig {
    fn default() -> Self {
        WorkspaceConfig {
            id_len: 10,
            max_capacity: 5,
            untitled: "Untitled Workspace".into(),
            anonymous_attendee: "Anonymous".into(),
            offline_ttl_secs: 300,
            idle_ttl_secs: 86_400,
            invite_ttl_secs: 0,
            ban_secs: 3_600,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: StorageBackend::Sled,
            path: PathBuf::from("data"),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: 65_536,
            creates_per_minute: 10,
            pin_failures: 5,
            pin_window_secs: 600,
            requests_per_second: 50,
            request_burst: 300,
            max_outbound_bytes: 1 << 20,
            stall_secs: 10,
            pin_checks_per_ip: 2,
            pin_workspace_failures: 20,
            entrance_tids: 100_000,
            admin_requests_per_minute: 300,
        }
    }
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            provider: Providers::One(Provider::Stun),
            stun_urls: vec![
                "stun:stun.l.google.com:19302".into(),
                "stun:stun1.l.google.com:19302".into(),
            ],
            twilio_base_url: "https://api.twilio.com".into(),
            twilio_ttl_secs: 86_400,
            turn_urls: Vec::new(),
            turn_ttl_secs: 86_400,
        }
    }
}

impl Config {
    /// The address to bind, after the development/production default for the host.
    pub fn bind_addr(&self) -> (String, u16) {
        let host = self.server.host.clone().unwrap_or_else(|| {
            if self.server.development {
                "127.0.0.1".into()
            } else {
                "0.0.0.0".into()
            }
        });
        (host, self.server.port)
    }
}

/// The cores this process may run on, read once: the standard library reads cgroup files
/// on every call, and [`ServerConfig::connection_cap`] is asked on every upgrade.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::LazyLock<usize> =
        std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    *CORES
}
