//! Guarding a store directory before sled touches it.
//!
//! sled, given a damaged data file, silently starts over and overwrites it. So nothing
//! is opened with sled until the directory has been shown to be ours, unlocked, of a
//! layout this binary knows, and readable: the last check opens a scratch copy, never
//! the original. A refused store is left exactly as it was.

use super::{migrate, StoreError};
use fs2::FileExt;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

pub const MARKER: &str = "switchboard-store.toml";
const LOCK: &str = "switchboard.lock";
pub const LAYOUT_KEY: &[u8] = b"meta/layout";

/// A checked directory, locked for this process until dropped.
pub struct Guarded {
    /// The layout the marker records; 0 for a store being created.
    pub layout: u32,
    _lock: File,
}

pub fn guard(path: &Path) -> Result<Guarded, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        cause: source,
    };
    fs::create_dir_all(path).map_err(io)?;
    let fresh = is_fresh(path).map_err(io)?;
    let layout = if fresh { 0 } else { read_marker(path)? };
    if layout > migrate::CURRENT {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found: layout,
            known: migrate::CURRENT,
        });
    }
    let lock = lock(path)?;
    if fresh {
        write_marker(path, 0).map_err(io)?;
    } else if layout > 0 {
        preflight(path, layout)?;
    }
    Ok(Guarded {
        layout,
        _lock: lock,
    })
}

/// Empty, or holding only what a first start that died before its first write leaves:
/// the lock file, a half-written marker, and the development secret (written before the
/// store is opened, see `config::dev_secret`).
fn is_fresh(path: &Path) -> std::io::Result<bool> {
    let leftovers = [LOCK.to_string(), format!("{MARKER}.tmp")];
    for entry in fs::read_dir(path)? {
        let name = entry?.file_name();
        let ours = leftovers.iter().any(|l| name == l.as_str());
        if !ours && !is_dev_secret(&name) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The development secret or its temporary file: not data, never copied for a check.
fn is_dev_secret(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.starts_with(crate::config::DEV_SECRET_FILE))
}

/// Whether `path` is missing, a fresh store directory, or a store: a directory where
/// Switchboard may keep its files.
pub(crate) fn is_store_or_fresh(path: &Path) -> bool {
    !path.exists() || is_fresh(path).unwrap_or(false) || path.join(MARKER).is_file()
}

fn read_marker(path: &Path) -> Result<u32, StoreError> {
    let file = path.join(MARKER);
    let text = match fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StoreError::Foreign {
                path: path.to_path_buf(),
                marker: MARKER,
            })
        }
        Err(cause) => return Err(StoreError::Io { path: file, cause }),
    };
    text.lines()
        .find_map(|line| line.trim().strip_prefix("layout")?.trim().strip_prefix('='))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| corrupt(path, format!("{MARKER} has no valid `layout = N` line")))
}

/// Writes the marker atomically: a crash leaves the old one or the new one.
pub fn write_marker(path: &Path, layout: u32) -> std::io::Result<()> {
    let tmp = path.join(format!("{MARKER}.tmp"));
    let mut file = File::create(&tmp)?;
    writeln!(
        file,
        "# Switchboard store. Do not edit: the layout is checked at every start.\nlayout = {layout}"
    )?;
    file.sync_all()?;
    fs::rename(&tmp, path.join(MARKER))?;
    File::open(path)?.sync_all()
}

fn lock(path: &Path) -> Result<File, StoreError> {
    let file = path.join(LOCK);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&file)
        .map_err(|source| StoreError::Io {
            path: file.clone(),
            cause: source,
        })?;
    lock.try_lock_exclusive().map_err(|_| StoreError::Locked {
        path: path.to_path_buf(),
    })?;
    Ok(lock)
}

/// Opens a scratch copy and checks that the data matches the marker and decodes.
/// The copy is named after the store, so a start killed mid-check leaves one stale
/// copy that the next start replaces, not one per attempt.
/// The copy goes to the temp directory, or beside the store when that is unusable.
fn preflight(path: &Path, layout: u32) -> Result<(), StoreError> {
    let full = fs::canonicalize(path).unwrap_or_else(|_| path.into());
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&full, &mut hasher);
    let name = format!(
        "switchboard-preflight-{:016x}",
        std::hash::Hasher::finish(&hasher)
    );
    let beside = full.parent().map(|p| p.join(format!(".{name}")));
    let mut failure = None;
    for scratch in std::iter::once(std::env::temp_dir().join(&name)).chain(beside) {
        let _ = fs::remove_dir_all(&scratch);
        let checked = match copy_dir(path, &scratch) {
            Ok(()) => Some(check_copy(path, &scratch, layout)),
            Err(cause) => {
                failure = Some((scratch.clone(), cause));
                None
            }
        };
        let _ = fs::remove_dir_all(&scratch);
        if let Some(checked) = checked {
            return checked;
        }
    }
    let (scratch, cause) =
        failure.unwrap_or_else(|| (path.into(), std::io::ErrorKind::Other.into()));
    Err(StoreError::Check {
        path: path.to_path_buf(),
        scratch,
        cause,
    })
}

fn check_copy(path: &Path, scratch: &Path, layout: u32) -> Result<(), StoreError> {
    let db = super::sled::open_db(scratch).map_err(|e| corrupt(path, e.to_string()))?;
    let stored = migrate::stored_layout(&db)
        .map_err(|e| corrupt(path, e.to_string()))?
        .ok_or_else(|| corrupt(path, "the data holds no layout version".into()))?;
    if stored < layout || stored > migrate::CURRENT {
        return Err(corrupt(
            path,
            format!("the data is at layout {stored}, the marker says {layout}"),
        ));
    }
    if stored == migrate::CURRENT {
        super::sled::decode_all(&db).map_err(|detail| corrupt(path, detail))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() == LOCK || is_dev_secret(&entry.file_name()) {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

fn corrupt(path: &Path, detail: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    }
}
