//! On the owner: running a request another node forwarded (`forward.rs`), with a
//! caller whose replies the router takes back to the caller's node, and answering it.

use super::forward::{Bound, Command, Forwarded, Outcome, Remote};
use super::locate::Place;
use super::{Binding, Caller, Hub, Link, Via};
use crate::cluster::control::Control;
use crate::core::event::codec_for;
use crate::error::{Error, Outage, Result};
use std::sync::Arc;

impl Hub {
    /// On the owner: runs a forwarded request and answers its sender.
    pub(crate) fn execute(self: &Arc<Self>, forwarded: Forwarded) {
        if forwarded.id != u64::MAX {
            if let Some(bus) = self.router.bus() {
                bus.tell(forwarded.from, &Control::Received { id: forwarded.id });
            }
        }
        let hub = self.clone();
        tokio::spawn(async move {
            let Forwarded { id, from, command } = forwarded;
            let outcome = hub.run_command(command).await;
            if id != u64::MAX {
                if let Some(bus) = hub.router.bus() {
                    bus.tell(from, &Control::Answer { id, outcome });
                }
            }
        });
    }

    async fn run_command(&self, command: Command) -> Result<Outcome> {
        let done = |r: Result<()>| r.map(|()| Outcome::Done);
        match command {
            Command::Attend { req, caller } => {
                let binding = self.attend(req, &self.caller(&caller)?.as_caller()).await?;
                Ok(Outcome::Bound(binding.wire()))
            }
            Command::ReAttend { token, caller } => {
                let binding = self
                    .re_attend(&token, &self.caller(&caller)?.as_caller())
                    .await?;
                Ok(Outcome::Bound(binding.wire()))
            }
            Command::Leave { binding, caller } => {
                let binding = self.owned_binding(binding)?;
                done(
                    self.leave(&binding, &self.caller(&caller)?.as_caller())
                        .await,
                )
            }
            Command::Moderate {
                binding,
                event,
                caller,
            } => {
                let binding = self.owned_binding(binding)?;
                done(
                    self.moderate(&binding, event, &self.caller(&caller)?.as_caller())
                        .await,
                )
            }
            Command::Destroy { binding, caller } => {
                let binding = self.owned_binding(binding)?;
                done(
                    self.destroy(&binding, &self.caller(&caller)?.as_caller())
                        .await,
                )
            }
            Command::Hangup {
                binding,
                call,
                to,
                caller,
            } => {
                let binding = self.owned_binding(binding)?;
                done(
                    self.hangup(&binding, call, to, &self.caller(&caller)?.as_caller())
                        .await,
                )
            }
            Command::State {
                binding,
                change,
                caller,
            } => {
                let binding = self.owned_binding(binding)?;
                done(
                    self.state(&binding, change, &self.caller(&caller)?.as_caller())
                        .await,
                )
            }
            Command::Answered { wid, call, who } => {
                self.call_answered(&wid, call, who);
                Ok(Outcome::Done)
            }
            Command::Disconnect { binding, conn } => {
                if let Ok(binding) = self.owned_binding(binding) {
                    self.disconnect(&binding, conn);
                }
                Ok(Outcome::Done)
            }
            Command::Rebind {
                wid,
                members,
                believed_online,
            } => {
                // This node may still be loading the workspace it just claimed: the
                // rebinding waits for it (a replica's state is about to be replaced).
                if let Place::Here = self.locate(&wid).await? {
                    self.rebind(&wid, members, &believed_online);
                }
                Ok(Outcome::Done)
            }
            Command::Preview { invite, ip } => {
                self.preview_invite(&invite, ip).await.map(Outcome::Preview)
            }
            Command::Operator(request) => self.operate_here(request).await,
            Command::VerifyMember { token } => {
                self.verify_member(&token).await.map(Outcome::Member)
            }
        }
    }

    /// The owner's binding for a member's binding on another node.
    fn owned_binding(&self, bound: Bound) -> Result<Binding> {
        let workspace = self
            .registry()
            .get(&bound.wid)
            .filter(|ws| ws.holder() == self.router.node())
            .cloned()
            .ok_or(Error::NotAttending)?;
        Ok(Binding {
            workspace,
            attendee: bound.attendee,
            role: bound.role,
            exp: bound.exp,
        })
    }

    fn caller<'a>(&'a self, remote: &'a Remote) -> Result<RemoteCaller<'a>> {
        let codec = codec_for(remote.protocol).ok_or(Error::Unavailable(Outage::Cluster))?;
        Ok(RemoteCaller {
            hub: self,
            link: Link {
                id: remote.conn,
                codec,
            },
            remote,
        })
    }
}

/// What a [`Caller`] on another node borrows from.
struct RemoteCaller<'a> {
    hub: &'a Hub,
    link: Link,
    remote: &'a Remote,
}

impl RemoteCaller<'_> {
    fn as_caller(&self) -> Caller<'_> {
        Caller {
            via: Via::Remote(&self.hub.router),
            link: &self.link,
            ip: self.remote.ip,
            re: self.remote.re.as_ref(),
        }
    }
}
