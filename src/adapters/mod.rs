//! Adapters: each wire protocol as a codec plus its own rules over the one core. The
//! native protocol is served by [`native`]; the protocols of the servers
//! Switchboard replaces (COMPAT.md) are here, each behind its `[compat.*]` switch.

pub(crate) mod bootstrap;
pub mod fuzzing;
mod json;
mod listeners;
pub mod native;
pub(crate) mod peero;
pub(crate) mod signal_fire;
pub(crate) mod socketio;

use crate::config::Config;
use crate::core::conn::Undelivered;
use crate::core::counters::{Counters, DropReason, Protocol};

use actix_web::{guard, web};
pub(crate) use listeners::listeners;

/// Makes the codecs of the protocols whose connections are workspace members known to
/// the core, which encodes for members on other nodes by their protocol's name.
pub(crate) fn register_codecs() {
    crate::core::event::register_codec(native::outbound::codec());
    crate::core::event::register_codec(socketio::codec::codec());
}

/// Adds the enabled compatible endpoints to the main listener's routes. A disabled
/// endpoint has no route: its path is a plain 404.
pub(crate) fn routes(config: &Config, cfg: &mut web::ServiceConfig) {
    let compat = &config.compat;
    if compat.socketio.enabled {
        cfg.route(&compat.socketio.path, web::route().to(socketio::endpoint));
    }
    if compat.signal_fire.enabled {
        cfg.route(
            &compat.signal_fire.path,
            web::get().to(signal_fire::upgrade),
        );
    }
    if compat.peero.enabled {
        cfg.route(&compat.peero.path, web::get().to(peero::upgrade));
    }
    if let Some(secret) = config.secrets.bootstrap_root.clone() {
        cfg.route("/join", web::get().to(bootstrap::join)).route(
            "/{root:.*}",
            web::get()
                .guard(guard::fn_guard(move |ctx| {
                    bootstrap::is_root_path(&secret, ctx)
                }))
                .to(bootstrap::root),
        );
    }
}

/// `{"type":"id","peerId":ID}`, the first frame of a signal-fire or Peero connection
/// (COMPAT.md 2 and 4).
fn id_frame(id: &str) -> bytestring::ByteString {
    json::frame([("type", "id".into()), ("peerId", id.into())])
}

/// The rule of the protocols without an error frame (COMPAT.md's common rules): a frame
/// over the rate, or one `route` cannot deliver, is dropped and counted. `bytes`: the
/// frame's size as received.
fn route_or_drop(
    counters: &Counters,
    protocol: Protocol,
    limited: bool,
    bytes: usize,
    route: impl FnOnce() -> Result<(), DropReason>,
) {
    let routed = if limited {
        Err(DropReason::RateLimited)
    } else {
        route()
    };
    match routed {
        Ok(()) => counters.relayed(protocol, bytes),
        Err(reason) => counters.dropped(protocol, reason),
    }
}

/// Why a delivery through the switch failed, as a drop reason.
fn undelivered(why: Undelivered) -> DropReason {
    match why {
        Undelivered::Gone => DropReason::UnknownReceiver,
        Undelivered::Full => DropReason::ReceiverFull,
    }
}
