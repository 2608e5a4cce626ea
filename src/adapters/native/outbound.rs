//! The native codec: the core's events as server-to-client frames,
//! `{"event", "re"?, "data"}`, and its close reasons as WebSocket close codes.
//!
//! Every native connection shares one codec ([`codec`]), so that a push to many members
//! is encoded once and its text shared.

use crate::core::conn::outbox::{CLOSE_KICKED, CLOSE_REPLACED};
use crate::core::counters::Protocol;
use crate::core::event::{
    AttendeeInfo, CloseReason, Codec, Encode, Joined, PayloadForm, Push, Relay, Reply, RequestId,
};
use crate::error::Error;
use bytestring::ByteString;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::{Arc, LazyLock};

#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    re: Option<&'a RequestId>,
    data: T,
}

/// The codec of every native connection.
pub fn codec() -> Codec {
    static NATIVE: LazyLock<Codec> = LazyLock::new(|| Arc::new(Native));
    NATIVE.clone()
}

struct Native;

impl Encode for Native {
    fn protocol(&self) -> Protocol {
        Protocol::Native
    }

    fn reply(&self, re: Option<&RequestId>, reply: &Reply) -> Option<ByteString> {
        Some(match reply {
            Reply::Created {
                workspace,
                attendee,
                token,
            } => {
                let data = json!({"workspace": workspace, "attendee": attendee, "token": token});
                self::reply(re, "created", data)
            }
            Reply::Attended(joined) => self::reply(re, "attended", joined_data(joined)),
            Reply::ReAttended(joined) => self::reply(re, "re-attended", joined_data(joined)),
            Reply::Refreshed { token } => self::reply(re, "refreshed", json!({"token": token})),
            Reply::Attendees { attendees } => attendees_reply(re, attendees),
            Reply::Left => self::reply(re, "left", Empty {}),
            Reply::Kicked { attendee_id, .. } => {
                self::reply(re, "kicked", json!({"attendee_id": attendee_id}))
            }
            Reply::Destroyed { workspace_id } => {
                self::reply(re, "destroyed", json!({"workspace_id": workspace_id}))
            }
            Reply::InviteRotated { invite } => {
                self::reply(re, "invite-rotated", json!({"invite": invite}))
            }
            Reply::PinSet { protected } => {
                self::reply(re, "pin-set", json!({"protected": protected}))
            }
            Reply::Sent => self::reply(re, "sent", Empty {}),
        })
    }

    fn push(&self, push: &Push) -> Option<ByteString> {
        Some(match push {
            Push::AttendeeJoined { attendee } => {
                self::push("attendee-joined", json!({"attendee": attendee}))
            }
            Push::AttendeeLeft {
                attendee_id,
                reason,
                ..
            } => self::push(
                "attendee-left",
                json!({"attendee_id": attendee_id, "reason": reason.as_str()}),
            ),
            Push::AttendeeOffline { attendee_id } => {
                self::push("attendee-offline", json!({"attendee_id": attendee_id}))
            }
            // The member was online all along: nothing to say.
            Push::AttendeeOnline { replaced: true, .. } => return None,
            Push::AttendeeOnline { attendee_id, .. } => {
                self::push("attendee-online", json!({"attendee_id": attendee_id}))
            }
            Push::Kicked { attendee_id, .. } => {
                self::push("kicked", json!({"attendee_id": attendee_id}))
            }
            Push::Destroyed { workspace_id } => {
                self::push("destroyed", json!({"workspace_id": workspace_id}))
            }
            Push::InviteRotated { invite } => {
                self::push("invite-rotated", json!({"invite": invite}))
            }
            Push::Signal(relay) => {
                let unwrapped = description_of(relay);
                self::push(relay.kind.event(), Relayed::of(relay, unwrapped.as_deref()))
            }
            Push::Hangup { from, call, .. } => {
                self::push("hangup", json!({"from": from, "call": call}))
            }
            Push::State { from, mic, cam, .. } => {
                self::push("state", json!({"from": from, "mic": mic, "cam": cam}))
            }
        })
    }

    fn close(&self, reason: CloseReason) -> Option<(u16, &'static str)> {
        Some(match reason {
            CloseReason::Kicked => (CLOSE_KICKED, "kicked by the owner"),
            CloseReason::Replaced => (CLOSE_REPLACED, "replaced by a newer connection"),
        })
    }
}

fn joined_data(joined: &Joined) -> serde_json::Value {
    json!({
        "workspace": joined.workspace,
        "attendee": joined.attendee,
        "token": joined.token,
        "attendees": joined.attendees,
        "call": joined.call,
    })
}

fn attendees_reply(re: Option<&RequestId>, attendees: &[AttendeeInfo]) -> ByteString {
    reply(re, "attendees", json!({"attendees": attendees}))
}

/// What a target receives: `{from, call?, <payload field>?}`, the payload's bytes as
/// the sender wrote them.
#[derive(Serialize)]
struct Relayed<'a> {
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    candidate: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a RawValue>,
}

impl<'a> Relayed<'a> {
    /// `unwrapped`: the description out of a webRTCWorkspaces `message`, if the
    /// payload was one.
    fn of(relay: &'a Relay, unwrapped: Option<&'a RawValue>) -> Relayed<'a> {
        let payload = unwrapped.or(relay.payload.as_deref());
        let field = |name: &str| payload.filter(|_| relay.kind.payload_field() == Some(name));
        Relayed {
            from: &relay.from,
            call: relay.call.as_deref(),
            sdp: field("sdp"),
            candidate: field("candidate"),
            description: field("description"),
        }
    }
}

/// The `data` of a webRTCWorkspaces `message {type, data}` (COMPAT.md 1a), as a
/// native `description`; `null` when the message has none.
fn description_of(relay: &Relay) -> Option<Box<RawValue>> {
    if relay.form != PayloadForm::Message {
        return None;
    }
    let message = relay.payload.as_deref()?;
    let data = crate::adapters::json::Object::parse(message.get())
        .and_then(|fields| fields.raw("data").map(RawValue::to_owned));
    Some(data.unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON")))
}

/// A success reply of the adapter's own (one the core does not make).
pub fn reply(re: Option<&RequestId>, event: &str, data: impl Serialize) -> ByteString {
    encode(&Frame { event, re, data })
}

fn push(event: &str, data: impl Serialize) -> ByteString {
    encode(&Frame {
        event,
        re: None,
        data,
    })
}

/// `data` of the replies that carry nothing (`sent {}`, `left {}`), encoded without
/// building a JSON map: `sent` answers every relayed signal.
#[derive(Serialize)]
struct Empty {}

/// The error reply: `alert {code, message}`.
pub fn alert(re: Option<&RequestId>, error: &Error) -> ByteString {
    reply(
        re,
        "alert",
        json!({"code": error.code(), "message": error.to_string()}),
    )
}

fn encode<T: Serialize>(frame: &Frame<'_, T>) -> ByteString {
    match serde_json::to_string(frame) {
        Ok(text) => text.into(),
        // Only a map with non-string keys fails to encode, and none is built here.
        Err(e) => alert(frame.re, &Error::internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use crate::core::event::{LeaveReason, SignalKind};

    #[test]
    fn replies_carry_re_and_pushes_do_not() {
        let r = codec()
            .reply(Some(&RequestId::Int(7)), &Reply::Sent)
            .unwrap();
        assert_eq!(&*r, r#"{"event":"sent","re":7,"data":{}}"#);
        let p = codec()
            .push(&Push::AttendeeOffline {
                attendee_id: "_a".into(),
            })
            .unwrap();
        assert_eq!(
            &*p,
            r#"{"event":"attendee-offline","data":{"attendee_id":"_a"}}"#
        );
    }

    #[test]
    fn alerts_name_code_and_message() {
        let a = alert(None, &Error::WrongPin);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["data"]["code"], "wrong_pin");
        assert!(v.get("re").is_none());
    }

    #[test]
    fn relayed_payloads_are_the_senders_bytes() {
        let relay = Relay {
            kind: SignalKind::IceCandidate,
            from: "_a".into(),
            to: "_b".into(),
            call: None,
            payload: Some(RawValue::from_string(r#"{ "c" : [1,2] }"#.into()).unwrap()),
            form: PayloadForm::Bare,
            nonce: None,
            scene: None,
        };
        let frame = codec().push(&Push::Signal(relay)).unwrap();
        assert_eq!(
            &*frame,
            r#"{"event":"icecandidate","data":{"from":"_a","candidate":{ "c" : [1,2] }}}"#
        );
    }

    #[test]
    fn pushes_keep_their_frames() {
        let left = Push::AttendeeLeft {
            attendee_id: "_b".into(),
            name: "Bo".into(),
            reason: LeaveReason::Kicked,
        };
        assert_eq!(
            &*codec().push(&left).unwrap(),
            r#"{"event":"attendee-left","data":{"attendee_id":"_b","reason":"kicked"}}"#
        );
        let state = Push::State {
            from: "_a".into(),
            mic: Some(true),
            cam: None,
            announced: (Some(true), None),
        };
        assert_eq!(
            &*codec().push(&state).unwrap(),
            r#"{"event":"state","data":{"cam":null,"from":"_a","mic":true}}"#
        );
        let joined = Push::AttendeeJoined {
            attendee: AttendeeInfo {
                id: "_c".into(),
                name: "Ada".into(),
                role: Role::Attendee,
                online: true,
                mic: None,
                cam: None,
            },
        };
        assert_eq!(
            &*codec().push(&joined).unwrap(),
            concat!(
                r#"{"event":"attendee-joined","data":{"attendee":{"cam":null,"id":"_c","#,
                r#""mic":null,"name":"Ada","online":true,"role":"attendee"}}}"#
            )
        );
    }

    #[test]
    fn a_webrtcworkspaces_message_reaches_native_clients_as_its_description() {
        let relay = Relay {
            kind: SignalKind::Negotiation,
            from: "_a".into(),
            to: "_b".into(),
            call: None,
            payload: Some(
                RawValue::from_string(
                    r#"{"type":"offer","data":{"type":"offer","sdp":"v=0"}}"#.into(),
                )
                .unwrap(),
            ),
            form: PayloadForm::Message,
            nonce: Some("n".into()),
            scene: None,
        };
        assert_eq!(
            &*codec().push(&Push::Signal(relay)).unwrap(),
            r#"{"event":"negotiation","data":{"from":"_a","description":{"type":"offer","sdp":"v=0"}}}"#
        );
    }

    #[test]
    fn a_member_that_was_online_all_along_is_not_announced() {
        let online = |replaced| Push::AttendeeOnline {
            attendee_id: "_a".into(),
            name: "A".into(),
            replaced,
        };
        assert!(codec().push(&online(true)).is_none());
        assert_eq!(
            &*codec().push(&online(false)).unwrap(),
            r#"{"event":"attendee-online","data":{"attendee_id":"_a"}}"#
        );
    }

    #[test]
    fn close_reasons_have_their_codes() {
        assert_eq!(codec().close(CloseReason::Kicked).unwrap().0, 4003);
        assert_eq!(codec().close(CloseReason::Replaced).unwrap().0, 4001);
    }
}
