//! Layout 2: moderation. The keys of layout 1 are unchanged; records gain fields:
//!
//! | key | new fields |
//! |---|---|
//! | `w/{workspace id}` | `invite_version` (u64: invites of an older `ver` are refused), `bans` (`[{"addr", "until"}]`: an address key, IPv6 by its /64, refused at `attend` until unix ms `until`) |
//! | `m/{workspace id}/{attendee id}` | `addr` (the client address the member last connected from, or null) |
//!
//! The step writes the values that mean "as before" into every record: version 0, which
//! is the version of every invite minted under layout 1 (they carry no `ver`), no bans,
//! no address. A binary that knows only layout 1 would drop these fields on its next
//! write, un-banning addresses and reviving rotated invites; the new layout number is
//! what makes it refuse the store instead. Adding only what is absent, the step can run
//! twice.

use serde_json::{Map, Value};

pub fn apply(db: &::sled::Db) -> ::sled::Result<()> {
    let mut batch = ::sled::Batch::default();
    let workspace = [
        ("invite_version", Value::from(0u64)),
        ("bans", Value::Array(Vec::new())),
    ];
    fill_all(db, b"w/", &workspace, &mut batch)?;
    fill_all(db, b"m/", &[("addr", Value::Null)], &mut batch)?;
    db.apply_batch(batch)
}

/// Adds to `batch` every record under `prefix` that lacks one of `fields`, with them.
fn fill_all(
    db: &::sled::Db,
    prefix: &[u8],
    fields: &[(&str, Value)],
    batch: &mut ::sled::Batch,
) -> ::sled::Result<()> {
    for item in db.scan_prefix(prefix) {
        let (key, value) = item?;
        // A record that does not decode is left for the store's own check to name.
        let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(&value) else {
            continue;
        };
        if fill(&mut record, fields) {
            let bytes = serde_json::to_vec(&record)
                .map_err(|e| ::sled::Error::Unsupported(format!("re-encoding {key:?}: {e}")))?;
            batch.insert(key, bytes);
        }
    }
    Ok(())
}

/// Adds each of `fields` that `record` lacks; true when any was added.
fn fill(record: &mut Map<String, Value>, fields: &[(&str, Value)]) -> bool {
    let mut added = false;
    for (name, value) in fields {
        if !record.contains_key(*name) {
            record.insert((*name).to_string(), value.clone());
            added = true;
        }
    }
    added
}
