//! Layout 1, the first on-disk layout of the sled store. One tree (sled's default):
//!
//! | key | value |
//! |---|---|
//! | `w/{workspace id}` | a workspace record, JSON |
//! | `m/{workspace id}/{attendee id}` | a membership record, JSON |
//! | `meta/alive_at` | unix ms the server was last known alive, u64 big-endian |
//! | `meta/layout` | this layout's number, u32 big-endian (written by the runner) |
//!
//! A new store starts empty, so this step has nothing to transform.

pub fn apply(_db: &::sled::Db) -> ::sled::Result<()> {
    Ok(())
}
