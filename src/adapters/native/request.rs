//! Typed requests: an envelope's `event` and `data`, checked field by field.
//!
//! Unknown fields are ignored (newer clients may send more); a known field of the wrong
//! type, or a missing required one, is `bad_request`.

use super::envelope::Envelope;
use crate::core::event::PayloadForm;
pub use crate::core::event::SignalKind;
use crate::core::validate;
pub use crate::core::workspaces::request::{Attend, Create, Moderation, Signal, StateChange};
use crate::error::{Error, Result};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

#[derive(Debug)]
pub enum Request {
    Create(Create),
    Attend(Attend),
    ReAttend { token: String },
    Refresh,
    Attendees,
    Leave,
    Moderate(Moderation),
    Destroy,
    Signal(Signal),
    Hangup { call: String, to: Option<String> },
    State(StateChange),
    IceServers,
}

/// `data` of `create`.
#[derive(Deserialize)]
struct CreateData {
    name: Option<String>,
    pin: Option<String>,
    attendee_name: Option<String>,
}

/// `data` of `attend`.
#[derive(Deserialize)]
struct AttendData {
    invite: String,
    pin: Option<String>,
    name: Option<String>,
}

/// `data` of `state`.
#[derive(Deserialize)]
struct StateData {
    mic: Option<bool>,
    cam: Option<bool>,
}

/// `data` of `re-attend`.
#[derive(Deserialize)]
struct TokenData {
    token: String,
}

/// `data` of `kick`; a `ban` of null is no ban, as if left out.
#[derive(Deserialize)]
struct KickData {
    attendee_id: String,
    ban: Option<bool>,
}

/// `data` of `set-pin`: `pin` must be there, a string or null (no PIN).
#[derive(Deserialize)]
struct SetPinData {
    #[serde(default, deserialize_with = "nullable")]
    pin: Option<Option<String>>,
}

/// `data` of `hangup`.
#[derive(Deserialize)]
struct HangupData {
    call: String,
    to: Option<String>,
}

/// `data` of every signal; which fields are required depends on the kind.
#[derive(Deserialize)]
struct SignalData<'a> {
    to: String,
    call: Option<String>,
    #[serde(borrow, default, deserialize_with = "present")]
    sdp: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    candidate: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    description: Option<&'a RawValue>,
}

/// A field that is there, whatever its value, `null` included (a browser's end of
/// candidates is `candidate: null`); only a missing field is `None`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A field that is there, `null` included; only a missing field is `None`.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The request events of PROTOCOL.md: the only names `switchboard_requests_total`
/// labels, so a client cannot grow the series with names of its own.
const EVENTS: [&str; 18] = [
    "create",
    "attend",
    "re-attend",
    "refresh",
    "attendees",
    "leave",
    "kick",
    "rotate-invite",
    "set-pin",
    "destroy",
    "ring",
    "answer",
    "busy",
    "icecandidate",
    "negotiation",
    "hangup",
    "state",
    "iceservers",
];

/// `event` as a label value, when the protocol knows it.
pub(crate) fn known_event(event: &str) -> Option<&'static str> {
    EVENTS.iter().copied().find(|known| *known == event)
}

impl Request {
    pub fn parse(envelope: Envelope<'_>) -> Result<Request> {
        let Envelope { event, data, .. } = envelope;
        Ok(match event.as_str() {
            "create" => {
                let CreateData {
                    name,
                    pin,
                    attendee_name,
                } = fields(data)?;
                Request::Create(Create {
                    name,
                    pin,
                    attendee_name,
                })
            }
            "attend" => {
                let AttendData { invite, pin, name } = fields(data)?;
                Request::Attend(Attend { invite, pin, name })
            }
            "re-attend" => Request::ReAttend {
                token: fields::<TokenData>(data)?.token,
            },
            "refresh" => Request::Refresh,
            "attendees" => Request::Attendees,
            "leave" => Request::Leave,
            "kick" => {
                let KickData { attendee_id, ban } = fields(data)?;
                let ban = ban.unwrap_or(false);
                Request::Moderate(Moderation::Kick { attendee_id, ban })
            }
            "rotate-invite" => Request::Moderate(Moderation::RotateInvite),
            "set-pin" => {
                let SetPinData { pin } = fields(data)?;
                let pin = pin.ok_or_else(|| Error::bad_request("missing field pin"))?;
                Request::Moderate(Moderation::SetPin { pin })
            }
            "destroy" => Request::Destroy,
            "ring" => signal(SignalKind::Ring, data)?,
            "answer" => signal(SignalKind::Answer, data)?,
            "busy" => signal(SignalKind::Busy, data)?,
            "icecandidate" => signal(SignalKind::IceCandidate, data)?,
            "negotiation" => signal(SignalKind::Negotiation, data)?,
            "hangup" => {
                let HangupData { call, to } = fields(data)?;
                validate::call_id(&call)?;
                Request::Hangup { call, to }
            }
            "state" => {
                let StateData { mic, cam } = fields(data)?;
                Request::State(StateChange { mic, cam })
            }
            "iceservers" => Request::IceServers,
            _ => return Err(Error::UnknownEvent(event)),
        })
    }
}

fn signal(kind: SignalKind, data: &RawValue) -> Result<Request> {
    let fields: SignalData = fields(data)?;
    let call = match (kind.has_call(), fields.call) {
        (true, Some(call)) => {
            validate::call_id(&call)?;
            Some(call)
        }
        (true, None) => return Err(Error::bad_request("missing field call")),
        (false, _) => None,
    };
    let payload = match kind.payload_field() {
        Some(field) => {
            let value = match field {
                "sdp" => fields.sdp,
                "candidate" => fields.candidate,
                _ => fields.description,
            };
            let value =
                value.ok_or_else(|| Error::bad_request(format!("missing field {field}")))?;
            validate::payload_depth(field, value.get())?;
            Some(value.to_owned())
        }
        None => None,
    };
    Ok(Request::Signal(Signal {
        kind,
        to: fields.to,
        call,
        payload,
        form: PayloadForm::Bare,
        nonce: None,
    }))
}

fn fields<'a, T: Deserialize<'a>>(data: &'a RawValue) -> Result<T> {
    serde_json::from_str(data.get()).map_err(|e| Error::bad_request(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::native::envelope::decode;

    fn parse(text: &str) -> Result<Request> {
        Request::parse(decode(text).unwrap())
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r = parse(r#"{"event":"create","data":{"name":"x","future":1}}"#).unwrap();
        assert!(matches!(r, Request::Create(c) if c.name.as_deref() == Some("x")));
    }

    #[test]
    fn wrong_types_are_bad_requests() {
        let e = parse(r#"{"event":"create","data":{"name":5}}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        let e = parse(r#"{"event":"state","data":{"mic":"yes"}}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
        let e = parse(r#"{"event":"ring","data":{"to":"_a","call":"c"}}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
    }

    #[test]
    fn a_null_candidate_is_relayed_but_a_missing_one_is_not() {
        let r = parse(r#"{"event":"icecandidate","data":{"to":"_a","candidate":null}}"#);
        let Ok(Request::Signal(s)) = r else {
            panic!("not a signal")
        };
        assert_eq!(s.payload.unwrap().get(), "null");
        let e = parse(r#"{"event":"icecandidate","data":{"to":"_a"}}"#).unwrap_err();
        assert_eq!(e.code(), "bad_request");
    }

    #[test]
    fn kick_bans_only_when_asked() {
        use Moderation::Kick;
        let r = parse(r#"{"event":"kick","data":{"attendee_id":"_a","ban":true}}"#);
        assert!(matches!(r, Ok(Request::Moderate(Kick { ban: true, .. }))));
        for data in [
            r#"{"attendee_id":"_a"}"#,
            r#"{"attendee_id":"_a","ban":null}"#,
        ] {
            let r = parse(&format!(r#"{{"event":"kick","data":{data}}}"#));
            let no_ban = matches!(r, Ok(Request::Moderate(Kick { ban: false, .. })));
            assert!(no_ban, "{data}");
        }
        let e = parse(r#"{"event":"kick","data":{"attendee_id":"_a","ban":"yes"}}"#);
        assert_eq!(e.unwrap_err().code(), "bad_request");
    }

    #[test]
    fn set_pin_needs_its_field_and_null_removes_the_pin() {
        use Moderation::SetPin;
        let r = parse(r#"{"event":"set-pin","data":{"pin":"2468"}}"#);
        let pin = matches!(r, Ok(Request::Moderate(SetPin { pin: Some(p) })) if p == "2468");
        assert!(pin);
        let r = parse(r#"{"event":"set-pin","data":{"pin":null}}"#);
        assert!(matches!(r, Ok(Request::Moderate(SetPin { pin: None }))));
        for data in ["{}", r#"{"pin":2468}"#] {
            let e = parse(&format!(r#"{{"event":"set-pin","data":{data}}}"#)).unwrap_err();
            assert_eq!(e.code(), "bad_request", "{data}");
        }
        assert_eq!(
            parse(r#"{"event":"set-pin"}"#).unwrap_err().code(),
            "bad_request"
        );
    }

    #[test]
    fn unknown_events_are_named() {
        let e = parse(r#"{"event":"fly"}"#).unwrap_err();
        assert_eq!(e, Error::UnknownEvent("fly".into()));
    }

    #[test]
    fn signals_carry_their_payload_untouched() {
        let r = parse(r#"{"event":"icecandidate","data":{"to":"_a","candidate":{"c":[1,2]}}}"#);
        let Ok(Request::Signal(s)) = r else {
            panic!("not a signal")
        };
        assert_eq!(s.payload.unwrap().get(), r#"{"c":[1,2]}"#);
    }
}
