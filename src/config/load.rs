//! Reading the layers: file, `.env`, environment. Flags are applied by `main`.

use super::{Config, Secret};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The minimum length of `MAGICK_TOKEN` in production: HS256 keys shorter than the
/// hash output make brute-forcing a captured token cheaper than it should be.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot read {path}: {message}")]
    DotEnv { path: PathBuf, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("setting {key}: {message}")]
    Invalid { key: &'static str, message: String },
    #[error(
        "production mode (DEVELOPMENT=false) needs TLS, since browsers allow cameras only on \
         secure origins: set [tls] enabled = true with cert and key (or ENABLE_HTTPS=true), \
         or [server] behind_proxy = true when a reverse proxy terminates TLS"
    )]
    NoTls,
    #[error(
        "production mode (DEVELOPMENT=false) needs MAGICK_TOKEN set to a random secret of at \
         least {MIN_SECRET_BYTES} bytes, e.g. `export MAGICK_TOKEN=$(openssl rand -hex 32)`"
    )]
    WeakSecret,
    #[error("development secret {path}: {message}")]
    DevSecret { path: PathBuf, message: String },
}

/// The environment as Switchboard sees it: `.env` values, overridden by real variables.
#[derive(Debug, Default, Clone)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// `.env` in the working directory (when present), then the process environment.
    pub fn from_process() -> Result<Env, ConfigError> {
        let mut vars = HashMap::new();
        let dotenv = Path::new(".env");
        if dotenv.exists() {
            let iter = dotenvy::from_path_iter(dotenv).map_err(|e| dotenv_error(dotenv, e))?;
            for item in iter {
                let (k, v) = item.map_err(|e| dotenv_error(dotenv, e))?;
                vars.insert(k, v);
            }
        }
        vars.extend(std::env::vars());
        Ok(Env(vars))
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

fn dotenv_error(path: &Path, e: dotenvy::Error) -> ConfigError {
    ConfigError::DotEnv {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Builds the configuration. `path` is `Some` when the user named a file (which must
/// then exist); `None` reads `./config.toml` when present, else built-in defaults.
pub fn load(path: Option<&Path>, env: &Env) -> Result<Config, ConfigError> {
    let mut config = match path {
        Some(p) => parse_file(p)?,
        None if Path::new("config.toml").exists() => parse_file(Path::new("config.toml"))?,
        None => Config::default(),
    };
    apply_env(&mut config, env)?;
    Ok(config)
}

fn parse_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        cause: source,
    })?;
    let mut config = parse_str(&text).map_err(|message| ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    })?;
    config.server.resolve_against(path);
    Ok(config)
}

/// Parses config.toml text; the error names the offending key (toml reports
/// `unknown field` with its name and position).
pub fn parse_str(text: &str) -> Result<Config, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
}

fn apply_env(config: &mut Config, env: &Env) -> Result<(), ConfigError> {
    if let Some(port) = env.get("PORT") {
        config.server.port = port.parse().map_err(|_| ConfigError::Env {
            name: "PORT",
            message: format!("{port:?} is not a port number (0-65535)"),
        })?;
    }
    if let Some(host) = env.get("HOST") {
        config.server.host = Some(host.to_string());
    }
    if let Some(dev) = env.get("DEVELOPMENT") {
        config.server.development = parse_bool(dev).ok_or_else(|| ConfigError::Env {
            name: "DEVELOPMENT",
            message: format!("{dev:?} is not true or false"),
        })?;
    }
    if let Some(https) = env.get("ENABLE_HTTPS") {
        config.tls.enabled = parse_bool(https).ok_or_else(|| ConfigError::Env {
            name: "ENABLE_HTTPS",
            message: format!("{https:?} is not true or false"),
        })?;
    }
    if let Some(url) = env.get("REDIS_URL") {
        config.cluster.redis_url = Some(url.to_string());
    }
    if let Some(secret) = env.get("MAGICK_TOKEN") {
        config.secrets.jwt = Some(Secret::new(secret));
    }
    let secrets = &mut config.secrets;
    for (name, slot) in [
        ("SALT_STRING", &mut secrets.salt),
        ("TWILIO_ACCOUNT_SID", &mut secrets.twilio_sid),
        ("TWILIO_AUTH_TOKEN", &mut secrets.twilio_token),
        ("TURN_SECRET", &mut secrets.turn),
        ("BOOTSTRAP_SECRET", &mut secrets.bootstrap),
        ("SECRET", &mut secrets.legacy_bootstrap),
        ("ADMIN_TOKEN", &mut secrets.admin),
    ] {
        if let Some(value) = env.get(name) {
            *slot = Some(Secret::new(value));
        }
    }
    Ok(())
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Config {
    /// Checks what the file format cannot, and settles the JWT secret: a random one in
    /// development (with a warning, returned for the caller to log), a refusal in
    /// production when it is missing or short. Warns of a `public_dir` that is missing.
    pub fn prepare(&mut self) -> Result<Vec<String>, ConfigError> {
        self.check_values()?;
        self.check_ice()?;
        self.server.trusted_nets = super::proxies::parse(&self.server.trusted_proxies)?;
        self.server.origins = super::origins::parse(&self.server.allowed_origins)?;
        super::compat::check(self)?;
        super::cluster::check(self)?;
        let mut warnings: Vec<String> = self.server.public_dir_warning().into_iter().collect();
        let strong = self
            .secrets
            .jwt
            .as_ref()
            .is_some_and(|s| s.len() >= MIN_SECRET_BYTES);
        if !strong {
            if !self.server.development {
                return Err(ConfigError::WeakSecret);
            }
            warnings.push(match self.secrets.jwt {
                None => super::dev_secret::settle(self)?,
                Some(_) => format!(
                    "MAGICK_TOKEN is shorter than {MIN_SECRET_BYTES} bytes; production mode \
                     would refuse it"
                ),
            });
        }
        if !self.server.development && !self.tls.enabled && !self.server.behind_proxy {
            return Err(ConfigError::NoTls);
        }
        Ok(warnings)
    }

    /// Each configured ICE provider must have what it needs, or members would find out
    /// only when they try to call.
    fn check_ice(&self) -> Result<(), ConfigError> {
        use super::Provider;
        let ice = &self.ice;
        let providers = ice.provider.list();
        let invalid = |message: &str| {
            Err(ConfigError::Invalid {
                key: "ice.provider",
                message: message.to_string(),
            })
        };
        if providers.is_empty() {
            return invalid("name at least one of \"stun\", \"twilio\", \"coturn\"");
        }
        for provider in providers {
            match provider {
                Provider::Stun if ice.stun_urls.is_empty() => {
                    return invalid("\"stun\" needs ice.stun_urls");
                }
                Provider::Twilio
                    if self.secrets.twilio_sid.is_none() || self.secrets.twilio_token.is_none() =>
                {
                    return invalid(
                        "\"twilio\" needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN in the environment",
                    );
                }
                Provider::Coturn if self.secrets.turn.is_none() || ice.turn_urls.is_empty() => {
                    return invalid(
                        "\"coturn\" needs TURN_SECRET in the environment and ice.turn_urls",
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_values(&self) -> Result<(), ConfigError> {
        let w = &self.workspace;
        let l = &self.limits;
        let s = &self.server;
        let checks: [(&'static str, bool, &str); 14] = [
            (
                "workspace.id_len",
                (4..=64).contains(&w.id_len),
                "must be 4 to 64",
            ),
            (
                "workspace.max_capacity",
                w.max_capacity >= 1,
                "must be at least 1",
            ),
            (
                "workspace.untitled",
                valid_default_name(&w.untitled),
                "must be 1 to 64 characters",
            ),
            (
                "workspace.anonymous_attendee",
                valid_default_name(&w.anonymous_attendee),
                "must be 1 to 64 characters",
            ),
            (
                "limits.max_message_bytes",
                l.max_message_bytes >= 1024,
                "must be at least 1024",
            ),
            (
                "limits.requests_per_second",
                l.requests_per_second >= 1,
                "must be at least 1",
            ),
            (
                "limits.request_burst",
                l.request_burst >= 1,
                "must be at least 1",
            ),
            (
                "limits.creates_per_minute",
                l.creates_per_minute >= 1,
                "must be at least 1",
            ),
            (
                "limits.pin_failures",
                l.pin_failures >= 1,
                "must be at least 1",
            ),
            (
                "limits.pin_checks_per_ip",
                l.pin_checks_per_ip >= 1,
                "must be at least 1",
            ),
            ("limits.stall_secs", l.stall_secs >= 1, "must be at least 1"),
            (
                "limits.entrance_tids",
                l.entrance_tids >= 1,
                "must be at least 1",
            ),
            (
                "limits.max_outbound_bytes",
                l.max_outbound_bytes >= l.max_message_bytes,
                "must be at least limits.max_message_bytes",
            ),
            (
                "server.ping_timeout_secs",
                s.ping_interval_secs >= 1 && s.ping_timeout_secs > s.ping_interval_secs,
                "must be greater than server.ping_interval_secs (itself at least 1)",
            ),
        ];
        for (key, ok, message) in checks {
            if !ok {
                return Err(ConfigError::Invalid {
                    key,
                    message: message.to_string(),
                });
            }
        }
        Ok(())
    }
}

fn valid_default_name(name: &str) -> bool {
    crate::core::validate::name(Some(name), "").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_file_is_valid_and_complete() {
        let text = include_str!("../../config.toml");
        let shipped = parse_str(text).unwrap();
        let defaults = Config::default();
        assert_eq!(shipped.server.port, defaults.server.port);
        assert_eq!(
            shipped.limits.max_outbound_bytes,
            defaults.limits.max_outbound_bytes
        );
        assert_eq!(shipped.ice.stun_urls, defaults.ice.stun_urls);
        assert_eq!(shipped.workspace.untitled, defaults.workspace.untitled);
        assert_eq!(shipped.storage.backend, defaults.storage.backend);
        assert_eq!(shipped.storage.path, defaults.storage.path);
        assert_eq!(
            shipped.server.trusted_proxies,
            defaults.server.trusted_proxies
        );
        let (file, built_in) = (&shipped.compat, &defaults.compat);
        assert_eq!(file.signal_fire.path, built_in.signal_fire.path);
        assert_eq!(file.signal_fire.enabled, built_in.signal_fire.enabled);
        assert_eq!(file.peero.path, built_in.peero.path);
        assert_eq!(file.bootstrap.enabled, built_in.bootstrap.enabled);
        assert_eq!(file.bootstrap.timeout_secs, built_in.bootstrap.timeout_secs);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let err = parse_str("[limits]\nmax_mesage_bytes = 5\n").unwrap_err();
        assert!(err.contains("max_mesage_bytes"), "{err}");
        let err = parse_str("[serverr]\nport = 1\n").unwrap_err();
        assert!(err.contains("serverr"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = Env::from_pairs([("PORT", "7000"), ("DEVELOPMENT", "false")]);
        let mut config = Config::default();
        apply_env(&mut config, &env).unwrap();
        assert_eq!(config.server.port, 7000);
        assert!(!config.server.development);
        assert_eq!(config.bind_addr().0, "0.0.0.0");
        let bad = Env::from_pairs([("PORT", "seventy")]);
        assert!(apply_env(&mut Config::default(), &bad).is_err());
    }

    #[test]
    fn a_named_file_must_exist() {
        let err = load(
            Some(Path::new("/nonexistent/switchboard.toml")),
            &Env::default(),
        );
        assert!(err
            .unwrap_err()
            .to_string()
            .contains("/nonexistent/switchboard.toml"));
    }

    #[test]
    fn production_refuses_a_weak_secret() {
        let mut config = Config::default();
        config.server.development = false;
        assert!(matches!(config.prepare(), Err(ConfigError::WeakSecret)));
        config.secrets.jwt = Some(Secret::new("short"));
        assert!(matches!(config.prepare(), Err(ConfigError::WeakSecret)));
        config.secrets.jwt = Some(Secret::new("x".repeat(MIN_SECRET_BYTES)));
        assert!(matches!(config.prepare(), Err(ConfigError::NoTls)));
        config.server.behind_proxy = true;
        assert!(config.prepare().unwrap().is_empty());
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
