//! HTTPS and WSS with rustls (TLS 1.2 and 1.3 only, no OpenSSL): certificates from PEM
//! files, reloaded when they change, and an optional plain-HTTP listener that redirects
//! to HTTPS.

mod acme;
mod files;
mod redirect;
mod reload;

pub use files::{CertFiles, TlsError};
pub use redirect::redirect_server;

use crate::config::TlsConfig;
use rustls::crypto::CryptoProvider;
use std::sync::Arc;
use std::time::Duration;

/// A ready rustls configuration, and the watcher that keeps its certificate fresh.
pub struct Tls {
    pub server_config: rustls::ServerConfig,
    pub watcher: tokio::task::JoinHandle<()>,
    pub expiry: CertExpiry,
}

/// When the certificate being served expires (`switchboard_tls_certificate_expiry_seconds`).
/// Known for certificate files; ACME certificates are renewed by rustls-acme, which
/// does not expose the one it serves.
#[derive(Clone, Default)]
pub struct CertExpiry(Option<Arc<reload::Reloading>>);

impl CertExpiry {
    /// Unix seconds; `None` without TLS, or with ACME.
    pub fn not_after(&self) -> Option<i64> {
        self.0.as_ref().and_then(|r| r.not_after())
    }
}

/// `None` when TLS is off. Fails with the offending file named.
pub fn setup(config: &TlsConfig) -> Result<Option<Tls>, TlsError> {
    if !config.enabled {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_no_client_auth();
    if !config.acme.domains.is_empty() {
        let (resolver, task) = acme::start(&config.acme, provider)?;
        let mut server_config = builder.with_cert_resolver(resolver);
        // TLS-ALPN-01 challenges arrive on the serving port under this protocol name.
        server_config.alpn_protocols = vec![rustls_acme::acme::ACME_TLS_ALPN_NAME.to_vec()];
        return Ok(Some(Tls {
            server_config,
            watcher: task,
            expiry: CertExpiry::default(),
        }));
    }
    let files = config.files()?;
    let seen = reload::stamp(&files);
    let resolver = Arc::new(reload::Reloading::new(files.load(&provider)?));
    let server_config = builder.with_cert_resolver(resolver.clone());
    let every = Duration::from_secs(config.reload_secs);
    let watcher = reload::watch(files, seen, resolver.clone(), provider, every);
    Ok(Some(Tls {
        server_config,
        watcher,
        expiry: CertExpiry(Some(resolver)),
    }))
}

impl TlsConfig {
    pub fn files(&self) -> Result<CertFiles, TlsError> {
        Ok(CertFiles {
            cert: self
                .cert
                .clone()
                .ok_or(TlsError::NotConfigured("tls.cert"))?,
            key: self.key.clone().ok_or(TlsError::NotConfigured("tls.key"))?,
            ca: self.ca.clone(),
        })
    }
}

/// The process-wide default, for code (reqwest) that asks rustls without naming one.
pub fn install_default_provider() {
    let _ = CryptoProvider::install_default(rustls::crypto::ring::default_provider());
}
