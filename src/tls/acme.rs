//! Certificates from an ACME CA (Let's Encrypt) without certbot: rustls-acme obtains
//! them with the TLS-ALPN-01 challenge on the serving port itself, caches the account
//! and certificates in `cache_dir`, and renews them well before they expire.

use super::files::TlsError;
use crate::config::AcmeConfig;
use futures_util::StreamExt;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls_acme::caches::DirCache;
use rustls_acme::ResolvesServerCertAcme;
use std::sync::Arc;

/// The resolver that serves the ACME certificate (and answers challenges), and the
/// task that obtains and renews it.
pub fn start(
    config: &AcmeConfig,
    provider: Arc<CryptoProvider>,
) -> Result<(Arc<ResolvesServerCertAcme>, tokio::task::JoinHandle<()>), TlsError> {
    let mut acme = rustls_acme::AcmeConfig::new_with_provider(&config.domains, provider.clone())
        .directory(&config.directory_url)
        .cache(DirCache::new(config.cache_dir.clone()));
    if !config.email.is_empty() {
        acme = acme.contact_push(format!("mailto:{}", config.email));
    }
    if let Some(ca) = &config.directory_ca {
        acme = acme.client_tls_config(client_trusting(ca, provider)?);
    }
    let mut state = acme.state();
    let resolver = state.resolver();
    let domains = config.domains.join(",");
    let task = tokio::spawn(async move {
        while let Some(event) = state.next().await {
            match event {
                Ok(ok) => tracing::info!(domains = %domains, "ACME: {ok:?}"),
                Err(err) => tracing::error!(domains = %domains, "ACME: {err:?}"),
            }
        }
    });
    Ok((resolver, task))
}

fn client_trusting(
    ca: &std::path::Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let no_certificate = || TlsError::NoCertificate {
        path: ca.to_path_buf(),
    };
    let pem = std::fs::read(ca).map_err(|source| TlsError::Unreadable {
        path: ca.to_path_buf(),
        cause: source,
    })?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|_| no_certificate())?)
            .map_err(|_| no_certificate())?;
    }
    if roots.is_empty() {
        return Err(no_certificate());
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|_| no_certificate())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
