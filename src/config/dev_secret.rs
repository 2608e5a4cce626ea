//! The development secret kept in the data directory. A development start without
//! `MAGICK_TOKEN` has to sign with something; a new random secret at every start would
//! kill, at every restart, every invite and session token of the workspaces the sled
//! store keeps. So the first such start writes a random secret to a file readable by its
//! owner only (mode 0600), and later starts sign with it again.
//!
//! Development only: a production start never reads the file, it refuses to run without
//! a strong `MAGICK_TOKEN` (see `Config::prepare`).

use super::load::MIN_SECRET_BYTES;
use super::{Config, ConfigError, Secret, StorageBackend};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's name in the data directory. The store takes it (and a temporary file
/// named after it, left by a start that died while writing) as no data of its own.
pub(crate) const FILE: &str = "switchboard-dev-secret";

/// Development without `MAGICK_TOKEN`: signs with the secret kept in the sled store's
/// directory, or with a random one for this run when nothing survives it anyway (the
/// memory store, or a directory the store will refuse). Returns the warning that says
/// which.
pub(super) fn settle(config: &mut Config) -> Result<String, ConfigError> {
    let kept = match config.storage.backend {
        StorageBackend::Sled => load_or_create(&config.storage.path)?,
        // A cluster refuses to start without MAGICK_TOKEN (`config/cluster.rs`).
        StorageBackend::Memory | StorageBackend::Redis => None,
    };
    let Some(kept) = kept else {
        config.secrets.jwt = Some(Secret::new(crate::core::ids::random_secret()));
        let warning = "MAGICK_TOKEN is not set: using a random secret for this run; tokens \
                       will not survive a restart";
        return Ok(warning.to_string());
    };
    config.secrets.jwt = Some(kept.secret);
    let whence = if kept.created {
        "created now"
    } else {
        "kept from an earlier start"
    };
    Ok(format!(
        "MAGICK_TOKEN is not set: signing tokens with the secret in {} ({whence}), so \
         invites and sessions survive restarts; development only: production refuses to \
         start without MAGICK_TOKEN",
        kept.path.display()
    ))
}

/// The secret in `dir`, and whether this start created it.
pub(super) struct Kept {
    pub(super) secret: Secret,
    pub(super) path: PathBuf,
    pub(super) created: bool,
}

/// Reads the secret kept in `dir`, or creates it. `None` when `dir` is neither a store
/// nor empty: the store refuses it at start, and nothing is written into a directory
/// that is not ours.
pub(super) fn load_or_create(dir: &Path) -> Result<Option<Kept>, ConfigError> {
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => return read(&path, &text).map(|secret| Some(kept(path, secret, false))),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(error(&path, e)),
        Err(_) => {}
    }
    if !crate::store::is_store_or_fresh(dir) {
        return Ok(None);
    }
    create(dir, &path).map(Some)
}

fn kept(path: PathBuf, secret: Secret, created: bool) -> Kept {
    Kept {
        secret,
        path,
        created,
    }
}

fn read(path: &Path, text: &str) -> Result<Secret, ConfigError> {
    let secret = text.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError::DevSecret {
            path: path.to_path_buf(),
            message: format!(
                "holds no secret of {MIN_SECRET_BYTES} bytes or more; delete it to have a new \
                 one made (tokens signed with the old one stop working)"
            ),
        });
    }
    Ok(Secret::new(secret))
}

/// Writes a new secret atomically: a start that dies half-way leaves no file, and of two
/// starts racing, the second reads what the first wrote.
fn create(dir: &Path, path: &Path) -> Result<Kept, ConfigError> {
    std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
    let prefix = format!("{FILE}.tmp");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    let mut file = builder.tempfile_in(dir).map_err(|e| error(dir, e))?;
    let secret = crate::core::ids::random_secret();
    writeln!(file, "{secret}").map_err(|e| error(path, e))?;
    file.as_file().sync_all().map_err(|e| error(path, e))?;
    match file.persist_noclobber(path) {
        Ok(_) => Ok(kept(path.to_path_buf(), Secret::new(secret), true)),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path).map_err(|e| error(path, e))?;
            read(path, &text).map(|secret| kept(path.to_path_buf(), secret, false))
        }
        Err(e) => Err(error(path, e.error)),
    }
}

fn error(path: &Path, cause: std::io::Error) -> ConfigError {
    ConfigError::DevSecret {
        path: path.to_path_buf(),
        message: cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_creates_it_for_its_owner_only_and_the_next_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = load_or_create(&data).unwrap().expect("a fresh directory");
        assert!(first.created);
        assert!(first.secret.len() >= MIN_SECRET_BYTES);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&first.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        let again = load_or_create(&data).unwrap().expect("the same directory");
        assert!(!again.created);
        assert_eq!(again.secret, first.secret);
        assert_eq!(again.path, data.join(FILE));
    }

    #[test]
    fn a_directory_that_is_not_a_store_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "keep me\n").unwrap();
        assert!(load_or_create(dir.path()).unwrap().is_none());
        assert!(!dir.path().join(FILE).exists());
    }

    #[test]
    fn a_damaged_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "short\n").unwrap();
        let Err(err) = load_or_create(dir.path()) else {
            panic!("a short secret was accepted");
        };
        assert!(err.to_string().contains(FILE), "{err}");
    }

    #[test]
    fn development_on_the_memory_store_makes_up_a_secret_and_says_so() {
        let mut config = Config::default();
        config.storage.backend = super::StorageBackend::Memory;
        let warnings = config.prepare().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("random secret for this run"),
            "{warnings:?}"
        );
        assert!(config.secrets.jwt.unwrap().len() >= MIN_SECRET_BYTES);
    }

    #[test]
    fn development_on_a_sled_store_keeps_its_secret_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let start = || {
            let mut config = Config::default();
            config.storage.path = dir.path().join("data");
            let warnings = config.prepare().unwrap();
            (config.secrets.jwt.unwrap(), warnings.join("\n"))
        };
        let (first, said) = start();
        let file = dir.path().join("data").join(FILE);
        assert!(said.contains(&file.display().to_string()), "{said}");
        assert!(said.contains("development only"), "{said}");
        assert_eq!(start().0, first, "the second start signs alike");
    }

    #[test]
    fn production_never_reads_the_development_secret() {
        let dir = tempfile::tempdir().unwrap();
        let mut development = Config::default();
        development.storage.path = dir.path().to_path_buf();
        development.prepare().unwrap();
        let mut production = development.clone();
        production.secrets.jwt = None;
        production.server.development = false;
        production.server.behind_proxy = true;
        assert!(matches!(production.prepare(), Err(ConfigError::WeakSecret)));
    }
}
