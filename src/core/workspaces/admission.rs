//! Who may attend a workspace: the holder of an invite of its current version, from an
//! address it has not banned, with its PIN when it has one.
//!
//! Rotating the invite bumps the version, which refuses every invite handed out before
//! without a list of revoked tokens to keep. Bans are kept by address key (IPv6 by its
//! /64, as every per-address limit is: see `auth::limits::source_key`), bounded in time
//! and in number, and stored with the workspace so that they survive restarts.

use crate::auth::limits::source_key;
use crate::error::{Error, Refusal, Result, TokenRefusal};
use crate::store::BanRecord;
use std::collections::VecDeque;
use std::net::IpAddr;

/// The most bans one workspace keeps: an owner banning address after address cannot
/// grow the record without bound. A ban beyond it pushes out the oldest.
pub(crate) const MAX_BANS: usize = 256;

#[derive(Debug, Clone, Default)]
pub(crate) struct Admission {
    /// argon2id PHC string; `None` for an unprotected workspace.
    pub(crate) pin_hash: Option<String>,
    /// Bumped by every rotation; an invite carries the version it was minted at.
    pub(crate) invite_version: u64,
    /// Oldest first, at most [`MAX_BANS`]; expired ones linger until the next prune.
    bans: VecDeque<BanRecord>,
}

impl Admission {
    pub(crate) fn new(pin_hash: Option<String>, invite_version: u64, bans: Vec<BanRecord>) -> Self {
        let mut admission = Admission {
            pin_hash,
            invite_version,
            bans: bans.into(),
        };
        // A record written by hand, or by a binary with a larger cap, still obeys ours.
        while admission.bans.len() > MAX_BANS {
            admission.bans.pop_front();
        }
        admission
    }

    /// A replica's view (`roster.rs`): whether a PIN is set and the invite version,
    /// nothing to check an `attend` against, which only the owner does.
    pub(crate) fn replica(protected: bool, invite_version: u64) -> Self {
        Admission::new(protected.then(String::new), invite_version, Vec::new())
    }

    /// Refuses an invite of another version (`invalid_token`: it was rotated away) and
    /// an address banned past `now_ms` (`forbidden`). The PIN is checked apart, since
    /// that needs a hash.
    pub(crate) fn admits(&self, invite_version: u64, ip: IpAddr, now_ms: u64) -> Result<()> {
        if invite_version != self.invite_version {
            return Err(Error::InvalidToken(TokenRefusal::InviteReplaced));
        }
        let key = source_key(ip);
        if self.bans.iter().any(|b| b.addr == key && b.until > now_ms) {
            return Err(Error::Forbidden(Refusal::Banned));
        }
        Ok(())
    }

    /// Makes every invite handed out so far worthless.
    pub(crate) fn rotate(&mut self) {
        self.invite_version += 1;
    }

    /// Refuses `ip`'s address key until `until` (unix ms). A ban of the same key is
    /// replaced; past [`MAX_BANS`], the oldest goes.
    pub(crate) fn ban(&mut self, ip: IpAddr, until: u64, now_ms: u64) {
        self.prune(now_ms);
        let addr = source_key(ip);
        self.bans.retain(|b| b.addr != addr);
        if self.bans.len() >= MAX_BANS {
            self.bans.pop_front();
        }
        self.bans.push_back(BanRecord { addr, until });
    }

    /// Forgets the bans that ran out by `now_ms`; true when there were any.
    pub(crate) fn prune(&mut self, now_ms: u64) -> bool {
        let before = self.bans.len();
        self.bans.retain(|b| b.until > now_ms);
        self.bans.len() != before
    }

    pub(crate) fn ban_records(&self) -> Vec<BanRecord> {
        self.bans.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn ban(addr: [u8; 4], until: u64) -> BanRecord {
        BanRecord {
            addr: IpAddr::from(addr),
            until,
        }
    }

    #[test]
    fn only_the_current_invite_version_is_admitted() {
        let mut admission = Admission::default();
        let ip = IpAddr::from([10, 0, 0, 1]);
        assert!(admission.admits(0, ip, 0).is_ok());
        admission.rotate();
        assert_eq!(
            admission.admits(0, ip, 0).unwrap_err().code(),
            "invalid_token"
        );
        assert!(admission.admits(1, ip, 0).is_ok());
    }

    #[test]
    fn a_stored_ban_refuses_its_address_until_it_runs_out() {
        let admission = Admission::new(None, 0, vec![ban([10, 0, 0, 1], 10)]);
        let banned = IpAddr::from([10, 0, 0, 1]);
        assert_eq!(
            admission.admits(0, banned, 9).unwrap_err().code(),
            "forbidden"
        );
        assert!(admission.admits(0, banned, 10).is_ok());
        assert!(admission.admits(0, IpAddr::from([10, 0, 0, 2]), 9).is_ok());
    }

    #[test]
    fn bans_are_kept_in_order_until_they_run_out() {
        let mut admission = Admission::new(
            None,
            0,
            vec![ban([10, 0, 0, 1], 10), ban([10, 0, 0, 2], 20)],
        );
        assert!(!admission.prune(10 - 1));
        assert!(admission.prune(10));
        assert_eq!(admission.ban_records(), vec![ban([10, 0, 0, 2], 20)]);
    }

    #[test]
    fn a_stored_list_longer_than_the_cap_keeps_the_newest() {
        let stored = (0..=MAX_BANS as u64)
            .map(|n| ban([10, 0, 0, 1], n + 1))
            .collect();
        let admission = Admission::new(None, 0, stored);
        let kept = admission.ban_records();
        assert_eq!(kept.len(), MAX_BANS);
        assert_eq!(kept[0].until, 2, "the oldest went");
    }

    #[test]
    fn a_ban_covers_the_ipv6_slash_64_until_it_runs_out() {
        let mut admission = Admission::default();
        admission.ban(ip("2001:db8:1:2::5"), 1_000, 0);
        let neighbour = ip("2001:db8:1:2:ffff::9");
        assert_eq!(
            admission.admits(0, neighbour, 999).unwrap_err().code(),
            "forbidden"
        );
        assert!(admission.admits(0, ip("2001:db8:1:3::5"), 999).is_ok());
        assert!(admission.admits(0, neighbour, 1_000).is_ok());
        assert_eq!(admission.ban_records()[0].addr, ip("2001:db8:1:2::"));
    }

    #[test]
    fn bans_are_pruned_and_capped_oldest_first() {
        let mut admission = Admission::default();
        admission.ban(ip("10.0.0.1"), 10, 0);
        for n in 0..MAX_BANS as u32 {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + n));
            admission.ban(addr, 1_000 + u64::from(n), 0);
        }
        assert_eq!(admission.ban_records().len(), MAX_BANS);
        assert!(
            admission.admits(0, ip("10.0.0.1"), 5).is_ok(),
            "the oldest went"
        );
        admission.ban(ip("10.0.0.2"), 5_000, 0);
        let records = admission.ban_records();
        assert_eq!(records.len(), MAX_BANS);
        assert_eq!(records[0].addr, ip("11.0.0.1"));
        assert!(admission.prune(1_100));
        assert_eq!(admission.ban_records().len(), MAX_BANS - 100);
        assert!(!admission.prune(1_100));
    }
}
