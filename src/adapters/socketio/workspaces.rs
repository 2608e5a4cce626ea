//! The webRTCWorkspaces events (COMPAT.md 1a) over the same workspaces as the native
//! protocol: one socket's membership, and each event checked and handed to the hub.
//!
//! Every event after the grant carries `accessToken` and the sender's ids; each is
//! checked on every event (signature, expiry, membership still current, and the id in
//! the payload is the token's own) before anything happens, and again by the hub
//! against this socket's binding. A refusal is an `alert` string and nothing else,
//! except where the original client expects `full {}` or `destroyed {}`.

use super::codec::codec;
use super::packet::event;
use crate::adapters::json;
use crate::adapters::native::session::ensure_unbound;
use crate::core::conn::Outbox;
use crate::core::counters::{Counters, DropReason, Protocol};
use crate::core::event::{PayloadForm, RequestId, SignalKind};
use crate::core::validate;
use crate::core::workspaces::request::{Attend, Create, Moderation, Signal, StateChange};
use crate::core::workspaces::{Binding, Caller, Hub, Link, Via};
use crate::error::{Error, Limit, Refusal, Result};
use crate::ice::Ice;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::net::IpAddr;
use std::sync::Arc;

/// The events of COMPAT.md 1a.
pub(super) const EVENTS: [&str; 16] = [
    "iceservers",
    "create",
    "attend",
    "re-attend",
    "attendees",
    "leave",
    "kick",
    "destroy",
    "ring",
    "answer",
    "busy",
    "hangup",
    "icecandidate",
    "negotiation",
    "mic-toggle",
    "cam-toggle",
];

/// One socket's side of the workspaces.
pub(super) struct Attendance {
    hub: Arc<Hub>,
    ice: Arc<Ice>,
    counters: Arc<Counters>,
    out: Outbox,
    link: Link,
    ip: IpAddr,
    binding: Option<Binding>,
}

/// Every field any 1a event carries; each event checks the ones it needs. Unknown
/// fields are ignored; a known one of the wrong type refuses the event.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    #[serde(default, deserialize_with = "json::object_field")]
    workspace: Option<WorkspaceIn>,
    #[serde(default, deserialize_with = "json::object_field")]
    attendee: Option<AttendeeIn>,
    access_token: Option<String>,
    #[serde(default, deserialize_with = "json::object_field")]
    broadcaster: Option<Ids>,
    #[serde(default, deserialize_with = "json::object_field")]
    kicked_attendee: Option<Ids>,
    #[serde(default, deserialize_with = "json::object_field")]
    callee: Option<Ids>,
    #[serde(default, deserialize_with = "json::object_field")]
    caller: Option<Ids>,
    #[serde(default, deserialize_with = "json::object_field")]
    call: Option<Ids>,
    #[serde(borrow)]
    offer: Option<&'a RawValue>,
    #[serde(borrow)]
    answer: Option<&'a RawValue>,
    #[serde(borrow)]
    candidate: Option<&'a RawValue>,
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    state: Option<bool>,
    nonce: Option<Scalar>,
}

#[derive(Deserialize, Default)]
struct WorkspaceIn {
    id: Option<String>,
    name: Option<String>,
    pin: Option<Scalar>,
    token: Option<String>,
}

#[derive(Deserialize, Default)]
struct AttendeeIn {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Ids {
    id: Option<String>,
}

/// A string or a number, as a page's form fields and nonces come.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_json::Number),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Number(n) => n.to_string(),
        }
    }
}

/// A required field, or `bad_request` naming it.
fn need<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| Error::bad_request(format!("missing field {field}")))
}

fn id_of(ids: Option<Ids>, field: &str) -> Result<String> {
    need(ids.and_then(|i| i.id), field)
}

impl Attendance {
    pub(super) fn new(
        hub: Arc<Hub>,
        ice: Arc<Ice>,
        counters: Arc<Counters>,
        out: Outbox,
        id: crate::core::conn::ConnId,
        ip: IpAddr,
    ) -> Attendance {
        Attendance {
            hub,
            ice,
            counters,
            out,
            link: Link { id, codec: codec() },
            ip,
            binding: None,
        }
    }

    /// Handles one 1a event. `limited`: over the socket's rate, refused with an alert.
    pub(super) async fn on_event(&mut self, name: &str, payload: Option<&RawValue>, limited: bool) {
        if let Some(event) = EVENTS.iter().find(|e| **e == name) {
            self.counters.request(Protocol::SocketIo, event);
        }
        let outcome = if limited {
            Err(Error::RateLimited(Limit::Requests))
        } else {
            let text = payload.map_or("{}", RawValue::get);
            match serde_json::from_str::<Payload<'_>>(text) {
                Ok(_) if !json::is_object(text) => {
                    Err(Error::bad_request("the payload is not an object"))
                }
                Ok(fields) => self.dispatch(name, fields, text.len()).await,
                Err(e) => Err(Error::bad_request(e.to_string())),
            }
        };
        if let Err(e) = outcome {
            self.refuse(name, &e);
        }
    }

    /// The socket closed: its member, if any, goes offline.
    /// The membership this socket is bound to, as (workspace id, attendee id).
    pub(super) fn member(&self) -> Option<(&str, &str)> {
        self.binding.as_ref().map(Binding::ids)
    }

    pub(super) fn on_end(&self) {
        if let Some(binding) = &self.binding {
            self.hub.disconnect(binding, self.link.id);
        }
    }

    /// `bytes`: the payload's size as received, for the relay counters.
    async fn dispatch(&mut self, name: &str, p: Payload<'_>, bytes: usize) -> Result<()> {
        let nonce = p.nonce.map(Scalar::text).unwrap_or_default();
        let re = RequestId::Str(nonce.clone());
        let caller = Caller {
            via: Via::Local(&self.out),
            link: &self.link,
            ip: self.ip,
            re: Some(&re),
        };
        let hub = &self.hub;
        match name {
            "iceservers" => return self.ice_servers().await,
            "create" => {
                ensure_unbound(hub, &mut self.binding, &caller)?;
                let workspace = p.workspace.unwrap_or_default();
                let attendee = p.attendee.unwrap_or_default();
                let request = Create {
                    name: workspace.name,
                    pin: workspace.pin.map(Scalar::text),
                    attendee_name: attendee.name,
                };
                self.binding = Some(hub.create(request, &caller).await?);
                return self.ice_servers().await;
            }
            "attend" => {
                ensure_unbound(hub, &mut self.binding, &caller)?;
                let workspace = need(p.workspace, "workspace")?;
                let request = Attend {
                    invite: need(workspace.token, "workspace.token")?,
                    pin: workspace.pin.map(Scalar::text),
                    name: p.attendee.and_then(|a| a.name),
                };
                self.binding = Some(hub.attend(request, &caller).await?);
                return self.ice_servers().await;
            }
            "re-attend" => {
                let token = need(p.access_token, "accessToken")?;
                let sender = need(p.attendee.and_then(|a| a.id), "attendee.id")?;
                let claims = hub.verify_member(&token).await?;
                let wid = p.workspace.and_then(|w| w.id);
                if claims.sub != sender || wid.is_some_and(|w| w != claims.wid) {
                    return Err(Error::Forbidden(Refusal::NotYourId));
                }
                ensure_unbound(hub, &mut self.binding, &caller)?;
                self.binding = Some(hub.re_attend(&token, &caller).await?);
                return self.ice_servers().await;
            }
            _ => {}
        }
        let sender = match name {
            "icecandidate" | "negotiation" => id_of(p.broadcaster, "broadcaster.id")?,
            _ => need(
                p.attendee.as_ref().and_then(|a| a.id.clone()),
                "attendee.id",
            )?,
        };
        let wid = p.workspace.as_ref().and_then(|w| w.id.as_deref());
        self.check_sender(p.access_token.as_deref(), &sender, wid)
            .await?;
        let binding = self.binding.as_mut().ok_or(Error::NotAttending)?;
        let signal = |kind, to: String, call: Option<Ids>, payload: Option<&RawValue>, field| {
            let call = match call {
                Some(_) | None if !SignalKind::has_call(kind) => None,
                call => Some(id_of(call, "call.id")?),
            };
            if let Some(call) = &call {
                validate::call_id(call)?;
            }
            let payload = match field {
                Some(field) => {
                    let value = need(payload, field)?;
                    validate::payload_depth(field, value.get())?;
                    Some(value.to_owned())
                }
                None => None,
            };
            Ok::<_, Error>(Signal {
                kind,
                to,
                call,
                payload,
                form: PayloadForm::Bare,
                nonce: Some(nonce.clone()),
            })
        };
        let relayed = match name {
            "attendees" => return hub.attendees(binding, &caller),
            "leave" => {
                hub.leave(binding, &caller).await?;
                self.binding = None;
                return Ok(());
            }
            "kick" => {
                let attendee_id = id_of(p.kicked_attendee, "kickedAttendee.id")?;
                let kick = Moderation::Kick {
                    attendee_id,
                    ban: false,
                };
                return hub.moderate(binding, kick, &caller).await;
            }
            "destroy" => {
                hub.destroy(binding, &caller).await?;
                self.binding = None;
                return Ok(());
            }
            "hangup" => {
                return hub
                    .hangup(binding, id_of(p.call, "call.id")?, None, &caller)
                    .await
            }
            "mic-toggle" | "cam-toggle" => {
                let state = need(p.state, "state")?;
                let change = if name == "mic-toggle" {
                    StateChange {
                        mic: Some(state),
                        cam: None,
                    }
                } else {
                    StateChange {
                        mic: None,
                        cam: Some(state),
                    }
                };
                return hub.state(binding, change, &caller).await;
            }
            "ring" => signal(
                SignalKind::Ring,
                id_of(p.callee, "callee.id")?,
                p.call,
                p.offer,
                Some("offer"),
            )?,
            "answer" => signal(
                SignalKind::Answer,
                id_of(p.caller, "caller.id")?,
                p.call,
                p.answer,
                Some("answer"),
            )?,
            "busy" => signal(
                SignalKind::Busy,
                id_of(p.caller, "caller.id")?,
                p.call,
                None,
                None,
            )?,
            "icecandidate" => signal(
                SignalKind::IceCandidate,
                id_of(p.attendee.map(|a| Ids { id: a.id }), "attendee.id")?,
                None,
                p.candidate,
                Some("candidate"),
            )?,
            "negotiation" => Signal {
                form: PayloadForm::Message,
                ..signal(
                    SignalKind::Negotiation,
                    id_of(p.attendee.map(|a| Ids { id: a.id }), "attendee.id")?,
                    None,
                    p.message,
                    Some("message"),
                )?
            },
            _ => return Err(Error::UnknownEvent(name.to_string())),
        };
        match hub.signal(binding, relayed, &caller) {
            Ok(()) => {
                self.counters.relayed(Protocol::SocketIo, bytes);
                Ok(())
            }
            // webRTCWorkspaces has no event for an undeliverable signal (COMPAT.md 1a).
            Err(e @ (Error::UnknownAttendee(_) | Error::PeerOffline(_))) => {
                tracing::debug!(conn = %self.link.id, "signal dropped: {e}");
                self.counters
                    .dropped(Protocol::SocketIo, DropReason::UnknownReceiver);
                Ok(())
            }
            Err(Error::RateLimited(Limit::SlowRecipient)) => {
                self.counters
                    .dropped(Protocol::SocketIo, DropReason::ReceiverFull);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The token names a current membership, its subject is `sender`, its workspace the
    /// one the payload names, and this socket holds that membership.
    async fn check_sender(
        &self,
        token: Option<&str>,
        sender: &str,
        wid: Option<&str>,
    ) -> Result<()> {
        let claims = self.hub.verify_member(need(token, "accessToken")?).await?;
        if claims.sub != sender || wid.is_some_and(|w| w != claims.wid) {
            return Err(Error::Forbidden(Refusal::NotYourId));
        }
        match &self.binding {
            Some(b) if b.workspace.id == claims.wid && b.attendee == claims.sub => Ok(()),
            _ => Err(Error::NotAttending),
        }
    }

    /// `iceservers [RTCIceServer…]`: before any membership, the configured STUN servers
    /// only, whatever the provider; a member's full list (TURN credentials included)
    /// after each grant (COMPAT.md 1a).
    async fn ice_servers(&self) -> Result<()> {
        let frame = match &self.binding {
            None => {
                let stun = &self.hub.config().ice.stun_urls;
                if stun.is_empty() {
                    event("iceservers", json!([]))
                } else {
                    event("iceservers", json!([{ "urls": stun }]))
                }
            }
            Some(binding) => {
                let servers = self.ice.servers(&binding.attendee).await?;
                event("iceservers", &servers.ice_servers)
            }
        };
        self.out.send(frame);
        Ok(())
    }

    /// The answer to a refused event: `full {}` and `destroyed {}` where the original
    /// client expects them, an `alert` string otherwise.
    fn refuse(&mut self, name: &str, error: &Error) {
        self.counters.alerted(error);
        let attending = name == "attend";
        let frame = match error {
            Error::WorkspaceFull(_) if attending => event("full", json!({})),
            Error::InvalidToken(_) | Error::ExpiredToken if attending => {
                event("destroyed", json!({}))
            }
            Error::WorkspaceNotFound => {
                self.binding = None;
                event("destroyed", json!({}))
            }
            // Nothing else happens (COMPAT.md 1a): whoever's token expired, the
            // socket's membership stays as it is.
            e => event("alert", e.to_string()),
        };
        self.out.send(frame);
    }
}
