//! Shorthands for the setups many tests share: a workspace with its members, a member
//! going offline, a refused `re-attend`, and `run` returning after shutdown.

use super::{alert_code, within, Member, TestApp};
use serde_json::{json, Value};

impl TestApp {
    /// A new workspace without a PIN, its owner, and attendees named `names` who
    /// attended in that order. Nobody has read a push yet.
    pub async fn workspace_with<const N: usize>(&self, names: [&str; N]) -> (Member, [Member; N]) {
        let owner = self.create_workspace(None).await;
        let mut attendees = Vec::with_capacity(N);
        for name in names {
            attendees.push(self.attend(&owner.invite(), None, name).await);
        }
        let attendees = attendees
            .try_into()
            .unwrap_or_else(|_| unreachable!("one member per name"));
        (owner, attendees)
    }

    /// [`TestApp::workspace_with`], after which every member has seen everyone after
    /// them join: each has taken, as its next pushes, one `attendee-joined` per later
    /// attendee, in order. What a member hears next is what the test causes.
    pub async fn acquainted_workspace<const N: usize>(
        &self,
        names: [&str; N],
    ) -> (Member, [Member; N]) {
        let (mut owner, mut attendees) = self.workspace_with(names).await;
        for at in 0..N {
            let (earlier, later) = attendees.split_at_mut(at);
            let joiner = &later[0];
            for member in std::iter::once(&mut owner).chain(earlier) {
                let joined = member.client.recv_event("attendee-joined").await;
                assert_eq!(joined["attendee"]["id"], joiner.attendee["id"], "{joined}");
            }
        }
        (owner, attendees)
    }

    /// The alert code a new connection gets for re-attending with `token`; panics when
    /// the reply is not an alert.
    pub async fn re_attend_alert(&self, token: &str) -> String {
        let (_client, frame) = self.try_re_attend(token).await;
        alert_code(&frame)
    }

    /// Waits for `run` to return (after [`TestApp::trigger_shutdown`]); asserts it
    /// returned `Ok`.
    pub async fn expect_run_ok(&mut self) {
        let handle = self.handle.take().expect("run's join handle");
        let result = within("run to return", handle).await.expect("run task");
        assert!(result.is_ok(), "run returned {result:?}");
    }
}

impl Member {
    /// Closes this member's socket and waits until `witness` hears it go offline, as
    /// `witness`'s next push; returns that push's `data`.
    pub async fn go_offline_seen_by(&mut self, witness: &mut Member) -> Value {
        self.client.close().await;
        witness.client.recv_event("attendee-offline").await
    }

    /// The `attendees` array listed for this member's workspace.
    pub async fn list_attendees(&mut self) -> Value {
        let listed = self.client.ok("attendees", json!({}), "attendees").await;
        listed["attendees"].clone()
    }
}
