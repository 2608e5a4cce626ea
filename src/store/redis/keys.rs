//! Where each record lives in Redis, and the commands that write a slice of changes.
//!
//! One hash per workspace, `sb:ws:{wid}`: field `w` is the workspace record, field
//! `m:{attendee_id}` each membership, all JSON (the records of `store/mod.rs`, as sled
//! keeps them). A workspace and its memberships are one key, so dropping a workspace is
//! one DEL and loading it one HGETALL. `sb:workspaces` is the set of workspace ids, for
//! listing and expiry sweeps without a SCAN.

use super::super::{Change, MemberRecord, StoredWorkspace, WorkspaceRecord};
use ::redis::Cmd;
use std::collections::HashMap;

/// The layout number, as a decimal string.
pub(super) const LAYOUT: &str = "sb:layout";
/// The set of workspace ids.
pub(super) const WORKSPACES: &str = "sb:workspaces";
/// What a workspace hash's key starts with.
pub(super) const WORKSPACE_PREFIX: &str = "sb:ws:";
const RECORD_FIELD: &str = "w";
const MEMBER_PREFIX: &str = "m:";

pub(super) fn workspace_key(wid: &str) -> String {
    format!("{WORKSPACE_PREFIX}{wid}")
}

fn member_field(aid: &str) -> String {
    format!("{MEMBER_PREFIX}{aid}")
}

/// The commands for `changes`, in order; the writer wraps them in one MULTI/EXEC.
/// A workspace record is 2 commands (HSET, SADD), a membership 1 (HSET or HDEL), a
/// dropped workspace 2 (DEL, SREM).
pub(super) fn commands(changes: &[Change]) -> Result<Vec<Cmd>, serde_json::Error> {
    let mut cmds = Vec::with_capacity(changes.len() * 2);
    for change in changes {
        match change {
            Change::PutWorkspace(ws) => {
                let json = serde_json::to_vec(ws)?;
                cmds.push(Cmd::hset(workspace_key(&ws.id), RECORD_FIELD, json));
                cmds.push(Cmd::sadd(WORKSPACES, ws.id.as_str()));
            }
            Change::DropWorkspace(wid) => {
                cmds.push(Cmd::del(workspace_key(wid)));
                cmds.push(Cmd::srem(WORKSPACES, wid.as_str()));
            }
            Change::PutMember(wid, m) => {
                let json = serde_json::to_vec(m)?;
                cmds.push(Cmd::hset(workspace_key(wid), member_field(&m.id), json));
            }
            Change::DropMember(wid, aid) => {
                cmds.push(Cmd::hdel(workspace_key(wid), member_field(aid)));
            }
            // Per node, and meaningless for a store that nodes share: see the module doc
            // of `store/redis`.
            Change::AliveAt(_) => {}
        }
    }
    Ok(cmds)
}

/// A workspace hash, decoded; `None` when it holds no workspace record (absent, or only
/// memberships left over). The error names the field that does not decode. Fields of
/// other names are skipped.
pub(super) fn decode(
    wid: &str,
    fields: HashMap<Vec<u8>, Vec<u8>>,
) -> Result<Option<StoredWorkspace>, String> {
    let mut record = None;
    let mut members = Vec::new();
    for (field, value) in fields {
        let field = String::from_utf8(field)
            .map_err(|e| format!("a field name is not UTF-8 ({:?})", e.as_bytes()))?;
        if field == RECORD_FIELD {
            let ws: WorkspaceRecord = json(&field, &value)?;
            if ws.id != wid {
                return Err(format!("field {field} holds workspace {:?}", ws.id));
            }
            record = Some(ws);
        } else if let Some(aid) = field.strip_prefix(MEMBER_PREFIX) {
            let member: MemberRecord = json(&field, &value)?;
            if member.id != aid {
                return Err(format!("field {field} holds member {:?}", member.id));
            }
            members.push(member);
        }
    }
    // Hash fields come in no order; the key order is what the other stores give.
    members.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(record.map(|ws| (ws, members)))
}

fn json<T: serde::de::DeserializeOwned>(field: &str, value: &[u8]) -> Result<T, String> {
    serde_json::from_slice(value).map_err(|e| format!("field {field} does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(fields: &[(&str, &str)]) -> HashMap<Vec<u8>, Vec<u8>> {
        fields
            .iter()
            .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn a_redis_store_hash_with_bad_json_is_an_error_naming_the_field() {
        let bad = decode("a", hash(&[("w", "{not json")])).unwrap_err();
        assert!(bad.contains("field w does not decode"), "{bad}");
        let other = decode("a", hash(&[("w", r#"{"id":"b"}"#)])).unwrap_err();
        assert!(other.contains("field w"), "{other}");
        let member = decode("a", hash(&[("m:x", "{}")])).unwrap_err();
        assert!(member.contains("m:x"), "{member}");
    }

    #[test]
    fn a_redis_store_hash_without_a_record_is_no_workspace() {
        assert_eq!(decode("a", HashMap::new()), Ok(None));
        assert_eq!(decode("a", hash(&[("x", "ignored")])), Ok(None));
    }

    #[test]
    fn a_redis_store_change_is_one_or_two_commands_and_alive_at_none() {
        let changes = [
            Change::DropWorkspace("a".into()),
            Change::DropMember("a".into(), "m".into()),
            Change::AliveAt(5),
        ];
        assert_eq!(commands(&changes).unwrap().len(), 3);
    }
}
