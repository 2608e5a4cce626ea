//! Applying the numbered layout steps of `migrations/` to a sled store.

#[path = "../../migrations/v0001_initial.rs"]
mod v0001_initial;
#[path = "../../migrations/v0002_moderation.rs"]
mod v0002_moderation;

use super::layout::LAYOUT_KEY;

struct Step {
    version: u32,
    name: &'static str,
    apply: fn(&::sled::Db) -> ::sled::Result<()>,
}

/// In order; each one's `version` is the layout it produces.
const STEPS: &[Step] = &[
    Step {
        version: 1,
        name: "initial layout",
        apply: v0001_initial::apply,
    },
    Step {
        version: 2,
        name: "moderation: invite versions, bans, member addresses",
        apply: v0002_moderation::apply,
    },
];

/// The layout this binary writes.
pub const CURRENT: u32 = STEPS[STEPS.len() - 1].version;

/// The layout recorded inside the store; 0 for a store no step has run on.
pub fn stored_layout(db: &::sled::Db) -> ::sled::Result<Option<u32>> {
    Ok(db.get(LAYOUT_KEY)?.map(|v| {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&v[..4.min(v.len())]);
        u32::from_be_bytes(bytes)
    }))
}

/// Runs every step above `from`, recording each new layout durably before the next.
/// `on_step` is told each layout reached (the caller updates the marker file).
pub fn run(
    db: &::sled::Db,
    from: u32,
    mut on_step: impl FnMut(u32) -> std::io::Result<()>,
) -> Result<u32, String> {
    let mut layout = from;
    for step in STEPS.iter().filter(|s| s.version > from) {
        (step.apply)(db).map_err(|e| format!("migration to layout {}: {e}", step.version))?;
        db.insert(LAYOUT_KEY, &step.version.to_be_bytes())
            .and_then(|_| db.flush())
            .map_err(|e| format!("recording layout {}: {e}", step.version))?;
        on_step(step.version).map_err(|e| format!("marker for layout {}: {e}", step.version))?;
        tracing::info!(layout = step.version, step = step.name, "storage migrated");
        layout = step.version;
    }
    Ok(layout)
}
