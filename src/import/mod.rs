//! `switchboard import-json FILE`: brings the workspaces of a Node.js webRTCWorkspaces
//! server (its `json_storage_file`) into the configured store, keeping their ids.
//!
//! That file holds bcrypt hashes of strings we cannot recover, so PINs cannot come
//! along: imported workspaces are unprotected unless a new PIN is given for all of them.
//! Nobody holds a session token for the imported memberships either, so the import
//! prints a link per member that signs a browser in as that member (the demo app's
//! `#session=` form, see `public/app/shared.js`).

use crate::auth::{PinHasher, Role, Tokens};
use crate::config::Config;
use crate::core::validate;
use crate::store::{self, Change, MemberRecord, WorkspaceRecord};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod links;

pub use links::default_base_url;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error(
        "import-json needs MAGICK_TOKEN, the secret the server signs tokens with, to print \
         invites the server will accept"
    )]
    NoSecret,
    #[error("storage.backend is \"memory\": there is no store to import into; use \"sled\"")]
    MemoryBackend,
    #[error("cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path} is not a webRTCWorkspaces storage file: {message}")]
    Format { path: PathBuf, message: String },
    #[error("--pin: {0}")]
    Pin(String),
    #[error(
        "--base-url {0:?} is not an http:// or https:// address like \"https://call.example.com\""
    )]
    BaseUrl(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

/// One workspace as the Node.js server stored it; other fields (avatar, token,
/// socketMap, call) have no counterpart and are ignored.
#[derive(Deserialize)]
struct NodeWorkspace {
    id: String,
    name: Option<String>,
    owner: Option<String>,
    created: Option<Value>,
    #[serde(default)]
    attendees: BTreeMap<String, NodeAttendee>,
}

#[derive(Deserialize)]
struct NodeAttendee {
    id: String,
    name: Option<String>,
}

/// What the import did, workspace by workspace, for the operator to read.
pub struct Report {
    pub lines: Vec<String>,
}

/// What `import-json` is asked to do besides reading the file.
pub struct Options<'a> {
    /// Protects every imported workspace with this PIN.
    pub pin: Option<&'a str>,
    /// The demo app's address, which the printed links open; `None`: the address the
    /// config gives (see [`default_base_url`]).
    pub base_url: Option<&'a str>,
}

/// Imports `file` into the configured store. Prints, for each workspace, its invite and
/// one link per member (the owner's first): the demo app at `base_url`, signed in as that
/// member (`#session=<token>`), since nobody holds a Switchboard session token for the
/// imported memberships and the owner could otherwise never moderate or destroy them.
pub async fn import_json(
    config: &Config,
    file: &Path,
    options: Options<'_>,
) -> Result<Report, ImportError> {
    let secret = config.secrets.jwt.as_ref().ok_or(ImportError::NoSecret)?;
    if config.storage.backend == crate::config::StorageBackend::Memory {
        return Err(ImportError::MemoryBackend);
    }
    let base = match options.base_url {
        Some(url) => links::base_url(url)?,
        None => default_base_url(config),
    };
    let workspaces = read(file)?;
    let pin_hash = hash_pin(config, options.pin).await?;
    let store = store::open(&config.storage)?;
    let existing: Vec<String> = store
        .load()?
        .workspaces
        .into_iter()
        .map(|(ws, _)| ws.id)
        .collect();
    let tokens = Tokens::new(
        secret,
        config.auth.session_ttl_secs,
        config.workspace.invite_ttl_secs,
    );
    let mut lines = links::header(config, &base, pin_hash.is_some());
    for node in workspaces {
        if existing.contains(&node.id) {
            lines.push(format!(
                "workspace {}: already in the store, left as it is",
                node.id
            ));
            continue;
        }
        let (ws, members) = convert(node, config, pin_hash.clone());
        let mut changes = vec![Change::PutWorkspace(ws.clone())];
        changes.extend(
            members
                .iter()
                .map(|m| Change::PutMember(ws.id.clone(), m.clone())),
        );
        store.apply(&changes)?;
        lines.extend(links::links(&tokens, &base, &ws, &members));
    }
    store.sync().await?;
    store.close();
    Ok(Report { lines })
}

async fn hash_pin(config: &Config, pin: Option<&str>) -> Result<Option<String>, ImportError> {
    let Some(pin) = validate::new_pin(pin).map_err(|e| ImportError::Pin(e.to_string()))? else {
        return Ok(None);
    };
    let hasher = PinHasher::new(config.secrets.salt.clone());
    let hash = hasher.hash(pin).await;
    hash.map(Some).map_err(|e| ImportError::Pin(e.to_string()))
}

fn read(file: &Path) -> Result<Vec<NodeWorkspace>, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|source| ImportError::Read {
        path: file.to_path_buf(),
        cause: source,
    })?;
    let format = |message: String| ImportError::Format {
        path: file.to_path_buf(),
        message,
    };
    let all: BTreeMap<String, NodeWorkspace> =
        serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    all.into_values()
        .map(|ws| {
            let ids = std::iter::once(&ws.id)
                .chain(ws.owner.iter())
                .chain(ws.attendees.values().map(|a| &a.id));
            match ids.into_iter().find(|id| !valid_id(id)) {
                Some(bad) => Err(format(format!("id {bad:?} is not a webRTCWorkspaces id"))),
                None => Ok(ws),
            }
        })
        .collect()
}

/// Node ids are `_` plus letters and digits; anything else could not be one and would
/// break the store's key layout (which separates ids with `/`).
fn valid_id(id: &str) -> bool {
    id.starts_with('_')
        && (2..=64).contains(&id.len())
        && id[1..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn convert(
    node: NodeWorkspace,
    config: &Config,
    pin_hash: Option<String>,
) -> (WorkspaceRecord, Vec<MemberRecord>) {
    let defaults = &config.workspace;
    let created_at = node
        .created
        .as_ref()
        .and_then(millis)
        .unwrap_or_else(crate::clock::unix_ms);
    let mut members: Vec<MemberRecord> = node
        .attendees
        .into_values()
        .map(|a| MemberRecord {
            role: if node.owner.as_ref() == Some(&a.id) {
                Role::Owner
            } else {
                Role::Attendee
            },
            name: clean_name(a.name.as_deref(), &defaults.anonymous_attendee),
            id: a.id,
            joined_at: created_at,
            offline_since: None,
            addr: None,
        })
        .collect();
    // Every workspace needs its owner as a member, or nobody could destroy it.
    let owner = node.owner.unwrap_or_else(|| {
        members
            .first()
            .map(|m| m.id.clone())
            .unwrap_or_else(|| crate::core::ids::new_id(defaults.id_len))
    });
    match members.iter_mut().find(|m| m.id == owner) {
        Some(m) => m.role = Role::Owner,
        None => members.insert(
            0,
            MemberRecord {
                id: owner.clone(),
                name: defaults.anonymous_attendee.clone(),
                role: Role::Owner,
                joined_at: created_at,
                offline_since: None,
                addr: None,
            },
        ),
    }
    let ws = WorkspaceRecord {
        name: clean_name(node.name.as_deref(), &defaults.untitled),
        id: node.id,
        owner,
        pin_hash,
        created_at,
        capacity: defaults.max_capacity.max(members.len()),
        idle_since: None,
        invite_version: 0,
        bans: Vec::new(),
    };
    (ws, members)
}

/// A name as the protocol allows it: over-long names are cut, control characters
/// dropped, blank ones replaced by the default.
fn clean_name(name: Option<&str>, default: &str) -> String {
    let cleaned: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let cut: String = cleaned
        .trim()
        .chars()
        .take(validate::MAX_NAME_CHARS)
        .collect();
    validate::name(Some(&cut), default).unwrap_or_else(|_| default.to_string())
}

/// `created` as the Node server wrote it: `Date.now()` (ms) or an ISO-8601 date.
fn millis(created: &Value) -> Option<u64> {
    match created {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.parse::<u64>().ok().or_else(|| {
            let t = humantime::parse_rfc3339_weak(s).ok()?;
            let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
            Some(d.as_millis() as u64)
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_dates_in_both_node_forms() {
        assert_eq!(
            millis(&serde_json::json!(1_700_000_000_000u64)),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            millis(&serde_json::json!("2023-11-14T22:13:20.000Z")),
            Some(1_700_000_000_000)
        );
        assert_eq!(millis(&serde_json::json!("yesterday")), None);
    }

    #[test]
    fn ids_that_would_break_keys_are_refused() {
        assert!(valid_id("_abc123"));
        assert!(!valid_id("abc"));
        assert!(!valid_id("_a/b"));
        assert!(!valid_id("_"));
    }

    #[test]
    fn names_are_made_valid() {
        assert_eq!(clean_name(Some("  Ada\u{7} "), "x"), "Ada");
        assert_eq!(clean_name(None, "Anonymous"), "Anonymous");
        assert_eq!(clean_name(Some(&"a".repeat(100)), "x").chars().count(), 64);
    }
}
