//! Certificates that renew without a restart. certbot replaces the files every few
//! weeks; a watcher notices (modification time or size changed) and loads them. New
//! handshakes get the new certificate; open connections keep theirs. A broken new file
//! keeps the old certificate and logs an error naming the file, once per change.

use super::files::CertFiles;
use rustls::crypto::CryptoProvider;
use rustls::server::ClientHello;
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

#[derive(Debug)]
pub struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloading {
    pub fn new(first: CertifiedKey) -> Reloading {
        Reloading {
            current: RwLock::new(Arc::new(first)),
        }
    }

    fn set(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
    }

    /// When the certificate served now expires, in unix seconds.
    pub fn not_after(&self) -> Option<i64> {
        let current = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        super::files::not_after(&current)
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// Checks the files every `every` and swaps the certificate when they changed since
/// `seen`, their [`stamp`] taken before the certificate being served was loaded: a
/// renewal that lands while the server starts is picked up too.
pub fn watch(
    files: CertFiles,
    mut seen: Stamp,
    resolver: Arc<Reloading>,
    provider: Arc<CryptoProvider>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = stamp(&files);
            if now == seen {
                continue;
            }
            seen = now;
            match files.load(&provider) {
                Ok(key) => {
                    resolver.set(key);
                    tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                }
                Err(e) => tracing::error!("TLS certificate not reloaded, keeping the old one: {e}"),
            }
        }
    })
}

/// What tells a changed file: modification time and size of each (`None`: missing or
/// unreadable), in the order of [`CertFiles::paths`].
pub(super) type Stamp = Vec<Option<(SystemTime, u64)>>;

/// The files' [`Stamp`] now.
pub(super) fn stamp(files: &CertFiles) -> Stamp {
    files
        .paths()
        .map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}
