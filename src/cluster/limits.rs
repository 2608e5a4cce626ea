//! Limits that hold across the cluster: a token bucket per client address in Redis, for
//! what one address may do on any node (`limits.creates_per_minute`). The same refill
//! as `auth::limits::AddressLimiter`, at Redis's clock, in one atomic script.

use super::Cluster;
use crate::auth::limits::source_key;
use redis::Script;
use std::net::IpAddr;
use std::sync::LazyLock;

/// Takes a token of bucket ARGV[1] (burst ARGV[2], refilled at ARGV[3] tokens a
/// millisecond); 1 when there was one. The key expires once the bucket would be full.
static TAKE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst, rate = tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', ARGV[1], 'tokens', 'at')
local tokens = tonumber(held[1]) or burst
local at = tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', ARGV[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', ARGV[1], math.ceil(burst / rate) + 1)
return taken
"#,
    )
});

impl Cluster {
    /// Takes one of `ip`'s creates, `per_minute` a minute in bursts of as many, counted
    /// on every node together.
    pub(crate) async fn take_create(
        &self,
        ip: IpAddr,
        per_minute: u32,
    ) -> redis::RedisResult<bool> {
        if per_minute == 0 {
            return Ok(false);
        }
        let mut conn = self.commands.clone();
        let key = format!("sb:creates:{}", source_key(ip));
        let rate = f64::from(per_minute) / 60_000.0;
        let taken: i64 = TAKE
            .arg(key)
            .arg(per_minute)
            .arg(rate)
            .invoke_async(&mut conn)
            .await?;
        Ok(taken == 1)
    }
}
