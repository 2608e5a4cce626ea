//! Which node owns each workspace: `sb:owner:<workspace id>` holds the owner's number.
//! A workspace whose owner is not alive (not in `sb:alive`: dead, or never claimed) is
//! claimed by the first node that needs it, atomically, and loaded from the store.

use super::liveness::key;
use super::Cluster;
use redis::Script;
use std::sync::LazyLock;

/// Answers the owner of workspace ARGV[1], making it ARGV[2] (the caller) when nobody
/// alive owns it; an empty string when the workspace is not stored.
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local owner = redis.call('GET', 'sb:owner:' .. ARGV[1])
if owner == ARGV[2] then return owner end
if owner and redis.call('ZSCORE', 'sb:alive', owner) then return owner end
if redis.call('EXISTS', 'sb:ws:' .. ARGV[1]) == 0 then
  if owner then redis.call('DEL', 'sb:owner:' .. ARGV[1]) end
  return ''
end
redis.call('SET', 'sb:owner:' .. ARGV[1], ARGV[2])
return ARGV[2]
"#,
    )
});

/// Who owns a workspace, after a claim.
pub(crate) enum Claim {
    /// Node `n` (this one, when it just claimed it or had).
    Owner(u64),
    /// The store has no such workspace.
    Missing,
}

impl Cluster {
    /// The owner of workspace `wid`, claiming it for this node when no live node owns it.
    pub(crate) async fn claim(&self, wid: &str) -> redis::RedisResult<Claim> {
        let mut conn = self.commands.clone();
        let owner: String = CLAIM
            .arg(wid)
            .arg(key(self.node))
            .invoke_async(&mut conn)
            .await?;
        Ok(match u64::from_str_radix(&owner, 16) {
            Ok(node) => Claim::Owner(node),
            Err(_) => Claim::Missing,
        })
    }

    /// Records this node as the owner of a workspace it just created.
    pub(crate) async fn own(&self, wid: &str) -> redis::RedisResult<()> {
        let mut conn = self.commands.clone();
        redis::cmd("SET")
            .arg(format!("sb:owner:{wid}"))
            .arg(key(self.node))
            .query_async(&mut conn)
            .await
    }

    /// Forgets the owner of a workspace that ended.
    pub(crate) fn disown(&self, wid: &str) {
        let mut conn = self.commands.clone();
        let owner = format!("sb:owner:{wid}");
        tokio::spawn(async move {
            let _ = redis::cmd("DEL")
                .arg(owner)
                .query_async::<()>(&mut conn)
                .await;
        });
    }

    /// The workspaces among `wids` that no live node owns: their owner died (and no
    /// member came back to claim them), or they were never claimed.
    pub(crate) async fn orphans(&self, wids: &[String]) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.commands.clone();
        let live: std::collections::HashSet<String> = redis::cmd("ZRANGE")
            .arg("sb:alive")
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await?;
        let mut orphans = Vec::new();
        for chunk in wids.chunks(500) {
            let keys: Vec<String> = chunk.iter().map(|w| format!("sb:owner:{w}")).collect();
            let owners: Vec<Option<String>> =
                redis::cmd("MGET").arg(keys).query_async(&mut conn).await?;
            let unowned = chunk
                .iter()
                .zip(owners)
                .filter(|(_, owner)| owner.as_ref().is_none_or(|o| !live.contains(o)));
            orphans.extend(unowned.map(|(wid, _)| wid.clone()));
        }
        Ok(orphans)
    }

    /// Whether this node sweeps the orphans now: one node per `every`, cluster-wide.
    pub(crate) async fn take_sweep(&self, every: std::time::Duration) -> redis::RedisResult<bool> {
        let mut conn = self.commands.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg("sb:sweep")
            .arg(key(self.node))
            .arg("NX")
            .arg("PX")
            .arg(every.as_millis() as u64)
            .query_async(&mut conn)
            .await?;
        Ok(taken.is_some())
    }

    /// Whether `node` may still be alive: not declared dead.
    pub(crate) fn is_alive(&self, node: u64) -> bool {
        !self
            .dead
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&node)
    }
}
