//! One connection's protocol session: its binding to a membership, and the dispatch of
//! each decoded request to the hub. The transport counts frames against the rate and
//! tells the session when a request is over it.
//!
//! The session handles one request at a time, so a client's requests are answered, and
//! its signals relayed, in the order it sent them.

use crate::adapters::native::outbound::{self, alert, reply};
use crate::adapters::native::request::known_event;
use crate::adapters::native::{decode, Request, RequestId};
use crate::core::conn::Outbox;
use crate::core::counters::{Counters, Protocol};
use crate::core::workspaces::{Binding, Caller, Hub, Link, Via};
use crate::error::{Error, Limit, Malformed, Oversize, Result};
use crate::http::AppState;
use crate::ice::Ice;
use crate::transport::ws::{self, FrameHandler};
use actix_web::{web, HttpRequest, HttpResponse};
use bytestring::ByteString;
use std::net::IpAddr;
use std::sync::Arc;

/// `GET /ws`: a WebSocket speaking the native protocol.
pub async fn upgrade(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    ws::accept(&req, &app, |conn| {
        let link = Link {
            id: conn.id,
            codec: outbound::codec(),
        };
        Session::new(
            app.hub.clone(),
            app.ice.clone(),
            app.counters.clone(),
            conn.out.clone(),
            link,
            conn.ip,
        )
    })
}

pub(crate) struct Session {
    hub: Arc<Hub>,
    ice: Arc<Ice>,
    counters: Arc<Counters>,
    out: Outbox,
    /// This connection as the core addresses it, with the native codec.
    link: Link,
    ip: IpAddr,
    binding: Option<Binding>,
}

impl Session {
    pub(crate) fn new(
        hub: Arc<Hub>,
        ice: Arc<Ice>,
        counters: Arc<Counters>,
        out: Outbox,
        link: Link,
        ip: IpAddr,
    ) -> Session {
        Session {
            hub,
            ice,
            counters,
            out,
            link,
            ip,
            binding: None,
        }
    }

    /// A member event failed because the binding no longer holds: forget it.
    fn unbind_after(&mut self, error: &Error) {
        match error {
            // The membership went away under us (destroyed, replaced): nobody to tell.
            Error::NotAttending => self.binding = None,
            // The session ran out: the member goes offline as if its socket had
            // closed, and may `re-attend` on this socket.
            Error::ExpiredToken => {
                if let Some(binding) = self.binding.take() {
                    self.hub.disconnect(&binding, self.link.id);
                }
            }
            _ => {}
        }
    }

    fn alert(&self, re: Option<&RequestId>, error: &Error) {
        self.counters.alerted(error);
        self.out.send(alert(re, error));
    }

    /// `bytes`: the request's size as received, for the relay counters.
    async fn dispatch(
        &mut self,
        request: Request,
        re: Option<&RequestId>,
        bytes: usize,
    ) -> Result<()> {
        let caller = Caller {
            via: Via::Local(&self.out),
            link: &self.link,
            ip: self.ip,
            re,
        };
        let hub = &self.hub;
        // Every request that waits (on the store, another node, an ICE provider) waits
        // in a box of its own: inline, the largest of them would size the future of
        // every connection, idle or not, while a relay waits on nothing.
        match request {
            Request::Create(req) => {
                ensure_unbound(hub, &mut self.binding, &caller)?;
                self.binding = Some(Box::pin(hub.create(req, &caller)).await?);
            }
            Request::Attend(req) => {
                ensure_unbound(hub, &mut self.binding, &caller)?;
                self.binding = Some(Box::pin(hub.attend(req, &caller)).await?);
            }
            Request::ReAttend { token } => {
                ensure_unbound(hub, &mut self.binding, &caller)?;
                self.binding = Some(Box::pin(hub.re_attend(&token, &caller)).await?);
            }
            Request::Refresh => hub.refresh(bound(&mut self.binding)?, &caller)?,
            Request::Attendees => hub.attendees(bound(&mut self.binding)?, &caller)?,
            Request::Leave => {
                Box::pin(hub.leave(bound(&mut self.binding)?, &caller)).await?;
                self.binding = None;
            }
            Request::Moderate(event) => {
                Box::pin(hub.moderate(bound(&mut self.binding)?, event, &caller)).await?
            }
            Request::Destroy => {
                Box::pin(hub.destroy(bound(&mut self.binding)?, &caller)).await?;
                self.binding = None;
            }
            Request::Signal(signal) => {
                hub.signal(bound(&mut self.binding)?, signal, &caller)?;
                self.counters.relayed(Self::PROTOCOL, bytes);
            }
            Request::Hangup { call, to } => {
                Box::pin(hub.hangup(bound(&mut self.binding)?, call, to, &caller)).await?
            }
            Request::State(change) => {
                Box::pin(hub.state(bound(&mut self.binding)?, change, &caller)).await?
            }
            Request::IceServers => {
                let binding = bound(&mut self.binding)?;
                hub.check_member(binding, &caller)?;
                let servers = Box::pin(self.ice.servers(&binding.attendee)).await?;
                self.out.send(reply(re, "iceservers", servers));
            }
        }
        Ok(())
    }
}

fn bound(binding: &mut Option<Binding>) -> Result<&mut Binding> {
    binding.as_mut().ok_or(Error::NotAttending)
}

/// `create`/`attend`/`re-attend` need a free connection. A binding whose membership has
/// gone away (destroyed workspace) no longer counts, nor does one whose session ran out:
/// that member goes offline first, as a member event would have made it.
pub(crate) fn ensure_unbound(
    hub: &Hub,
    binding: &mut Option<Binding>,
    caller: &Caller<'_>,
) -> Result<()> {
    let Some(current) = binding else {
        return Ok(());
    };
    match hub.check_member(current, caller) {
        Err(Error::NotAttending) => {
            *binding = None;
            Ok(())
        }
        Err(Error::ExpiredToken) => {
            hub.disconnect(current, caller.link.id);
            *binding = None;
            Ok(())
        }
        _ => Err(Error::AlreadyAttending),
    }
}

impl FrameHandler for Session {
    const PROTOCOL: Protocol = Protocol::Native;

    /// Exactly one reply or alert per request. A message over the rate (`limited`) is
    /// answered `rate_limited`.
    async fn on_text(&mut self, text: ByteString, limited: bool) {
        let envelope = match decode(&text) {
            Ok(envelope) => envelope,
            Err(rejected) => return self.alert(rejected.id.as_ref(), &rejected.error),
        };
        let re = envelope.id.clone();
        if let Some(event) = known_event(&envelope.event) {
            self.counters.request(Self::PROTOCOL, event);
        }
        if limited {
            return self.alert(re.as_ref(), &Error::RateLimited(Limit::Requests));
        }
        let outcome = match Request::parse(envelope) {
            // In a box, as each request that waits is within it: inline, they would size
            // the future of every connection, idle or not.
            Ok(request) => Box::pin(self.dispatch(request, re.as_ref(), text.len())).await,
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            self.unbind_after(&e);
            self.alert(re.as_ref(), &e);
        }
    }

    /// Binary messages are not part of the protocol.
    fn on_binary(&mut self, limited: bool) {
        if !limited {
            self.alert(None, &Error::BadRequest(Malformed::Binary));
        }
    }

    fn on_too_large(&mut self, limit: usize) {
        self.alert(None, &Error::TooLarge(Oversize::Message(limit)));
    }

    /// The member, if any, goes offline.
    fn on_end(self) {
        if let Some(binding) = &self.binding {
            self.hub.disconnect(binding, self.link.id);
        }
    }

    fn member(&self) -> Option<(&str, &str)> {
        self.binding.as_ref().map(Binding::ids)
    }
}
