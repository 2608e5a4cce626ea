//! Certificates from an ACME CA (Let's Encrypt) without certbot: rustls-acme obtains
//! them with the TLS-ALPN-01 challenge on the serving port itself, caches the account
//! and certificates in `cache_dir`, and renews them well before they expire.

use super::files::{bad_certificate, certificates, TlsError};
use crate::config::AcmeConfig;
use futures_util::StreamExt;
use rustls::crypto::CryptoProvider;
use rustls_acme::caches::DirCache;
use rustls_acme::{EventError, ResolvesServerCertAcme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The resolver that serves the ACME certificate (and answers challenges), and the
/// task that obtains and renews it. Errors: `directory_ca` unusable (named, as
/// [`certificates`] does), `cache_dir` not a writable directory ([`TlsError::AcmeCache`]).
pub fn start(
    config: &AcmeConfig,
    provider: Arc<CryptoProvider>,
) -> Result<(Arc<ResolvesServerCertAcme>, tokio::task::JoinHandle<()>), TlsError> {
    let directory_client = match &config.directory_ca {
        Some(ca) => Some(client_trusting(ca, provider.clone())?),
        None => None,
    };
    let cache = writable_dir(&config.cache_dir)?;
    let mut acme = rustls_acme::AcmeConfig::new_with_provider(&config.domains, provider)
        .directory(&config.directory_url)
        .cache(DirCache::new(cache.clone()));
    if !config.email.is_empty() {
        acme = acme.contact_push(format!("mailto:{}", config.email));
    }
    if let Some(client) = directory_client {
        acme = acme.client_tls_config(client);
    }
    let mut state = acme.state();
    let resolver = state.resolver();
    let domains = config.domains.join(",");
    let task = tokio::spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(ok) => tracing::info!(domains = %domains, "ACME: {ok:?}"),
                Err(err) => tracing::error!(domains = %domains, "{}", describe(&err, &cache)),
            }
        }
    });
    Ok((resolver, task))
}

/// Creates `dir` when missing and proves it writable now, rather than at the first
/// renewal, weeks later, when rustls-acme's own error would not say where it wrote.
fn writable_dir(dir: &Path) -> Result<PathBuf, TlsError> {
    let unusable = |cause| TlsError::AcmeCache {
        path: dir.to_path_buf(),
        cause,
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let probe = dir.join(".switchboard-write-check");
    std::fs::write(&probe, b"").map_err(unusable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(dir.to_path_buf())
}

/// An ACME failure as logged: one of the cache names the cache directory, since the
/// cache's own I/O errors carry no path.
fn describe(err: &EventError<std::io::Error, std::io::Error>, cache: &Path) -> String {
    match err {
        EventError::CertCacheLoad(_)
        | EventError::CertCacheStore(_)
        | EventError::AccountCacheLoad(_)
        | EventError::AccountCacheStore(_)
        | EventError::CachedCertParse(_) => {
            format!("ACME cache directory {}: {err}", cache.display())
        }
        EventError::Order(_) | EventError::NewCertParse(_) => format!("ACME: {err}"),
    }
}

/// A client of the directory that trusts the roots in `ca` (a private or test CA).
fn client_trusting(
    ca: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for (at, cert) in certificates(ca)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| bad_certificate(ca, at, &e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_failures_name_the_cache_directory() {
        let cache = Path::new("/var/lib/switchboard/acme");
        let io = || std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        for err in [
            EventError::CertCacheLoad(io()),
            EventError::CertCacheStore(io()),
            EventError::AccountCacheLoad(io()),
            EventError::AccountCacheStore(io()),
        ] {
            let line = describe(&err, cache);
            assert!(line.contains("/var/lib/switchboard/acme"), "{line}");
        }
    }
}
