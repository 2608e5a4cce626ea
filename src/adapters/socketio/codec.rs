//! The webRTCWorkspaces codec: the core's events as the Socket.IO events of COMPAT.md
//! 1a, with the original client's objects (a workspace `{id, name, avatar, owner,
//! created, token}`, an attendee `{id, name, avatar}`) and the translations between
//! the native signals and webRTCWorkspaces' (`sdp` ⇄ `offer`/`answer`, `description` ⇄
//! `message {type, data}`, `state` ⇄ `mic-toggle`/`cam-toggle`).
//!
//! Events webRTCWorkspaces has no word for (presence changes it cannot show, replies
//! to relays, invite rotation) encode to nothing. Avatars are not kept: every object
//! carries `avatar: ""`, as the original client always sends it.

use super::packet::event;
use crate::core::counters::Protocol;
use crate::core::event::{
    AttendeeInfo, CloseReason, Codec, Encode, Joined, LeaveReason, PayloadForm, Push, Relay, Reply,
    RequestId, SignalKind, WorkspaceInfo,
};
use crate::transport::engineio::ENGINE_SEPARATOR;
use bytestring::ByteString;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::sync::{Arc, LazyLock};

/// The codec of every webRTCWorkspaces connection.
pub(crate) fn codec() -> Codec {
    static WORKSPACES: LazyLock<Codec> = LazyLock::new(|| Arc::new(Workspaces));
    WORKSPACES.clone()
}

struct Workspaces;

/// A workspace as the webRTCWorkspaces client keeps it.
#[derive(Serialize)]
struct Workspace<'a> {
    id: &'a str,
    name: &'a str,
    avatar: &'a str,
    owner: &'a str,
    /// Unix milliseconds.
    created: u64,
    /// The invite token.
    token: &'a str,
    /// `Some(())` is `call: null` (the grants); `None` leaves it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<()>,
}

impl<'a> Workspace<'a> {
    fn of(info: &'a WorkspaceInfo) -> Workspace<'a> {
        Workspace {
            id: &info.id,
            name: &info.name,
            avatar: "",
            owner: &info.owner,
            created: info.created_at,
            token: &info.invite,
            call: None,
        }
    }
}

/// An attendee as the webRTCWorkspaces client keeps it.
#[derive(Serialize)]
struct Attendee<'a> {
    id: &'a str,
    name: &'a str,
    avatar: &'a str,
}

impl<'a> Attendee<'a> {
    fn new(id: &'a str, name: &'a str) -> Attendee<'a> {
        Attendee {
            id,
            name,
            avatar: "",
        }
    }

    fn of(info: &'a AttendeeInfo) -> Attendee<'a> {
        Attendee::new(&info.id, &info.name)
    }
}

#[derive(Serialize)]
struct Id<'a> {
    id: &'a str,
}

/// Every member by id, in join order, the owner first.
fn attendees(list: &[AttendeeInfo]) -> IndexMap<&str, Attendee<'_>> {
    list.iter()
        .map(|a| (a.id.as_str(), Attendee::of(a)))
        .collect()
}

/// The nonce a reply echoes: the request's, carried as its id.
fn nonce(re: Option<&RequestId>) -> serde_json::Value {
    match re {
        Some(RequestId::Str(s)) => json!(s),
        Some(RequestId::Int(n)) => json!(n),
        Some(RequestId::Uint(n)) => json!(n),
        None => json!(""),
    }
}

/// `attendance-granted` and `re-attendance-granted`. The workspace says `call: null`,
/// and so does a re-attendance: a non-null call makes the original client loop; members
/// on a call ring the returning attendee when they see its `attend` (COMPAT.md 1a).
fn granted(name: &str, joined: &Joined, nonce: serde_json::Value, again: bool) -> ByteString {
    #[derive(Serialize)]
    struct Granted<'a> {
        workspace: Workspace<'a>,
        attendee: Attendee<'a>,
        attendees: IndexMap<&'a str, Attendee<'a>>,
        #[serde(rename = "accessToken")]
        access_token: &'a str,
        nonce: serde_json::Value,
        /// `Some(())` is `null`; `None` is absent.
        #[serde(skip_serializing_if = "Option::is_none")]
        call: Option<()>,
    }
    let workspace = Workspace {
        call: Some(()),
        ..Workspace::of(&joined.workspace)
    };
    event(
        name,
        Granted {
            workspace,
            attendee: Attendee::of(&joined.attendee),
            attendees: attendees(&joined.attendees),
            access_token: &joined.token,
            nonce,
            call: again.then_some(()),
        },
    )
}

impl Encode for Workspaces {
    fn protocol(&self) -> Protocol {
        Protocol::SocketIo
    }

    fn reply(&self, re: Option<&RequestId>, reply: &Reply) -> Option<ByteString> {
        Some(match reply {
            Reply::Created {
                workspace,
                attendee,
                token,
            } => {
                #[derive(Serialize)]
                struct Created<'a> {
                    workspace: Workspace<'a>,
                    attendee: Attendee<'a>,
                    #[serde(rename = "accessToken")]
                    access_token: &'a str,
                    nonce: serde_json::Value,
                }
                let created = Created {
                    workspace: Workspace::of(workspace),
                    attendee: Attendee::of(attendee),
                    access_token: token,
                    nonce: nonce(re),
                };
                event("created", created)
            }
            Reply::Attended(joined) => granted("attendance-granted", joined, nonce(re), false),
            Reply::ReAttended(joined) => granted("re-attendance-granted", joined, json!(""), true),
            Reply::Attendees { attendees: list } => {
                event("attendees", json!({"attendees": attendees(list)}))
            }
            Reply::Kicked { attendee_id, name } => {
                event("kicked", Attendee::new(attendee_id, name))
            }
            Reply::Destroyed { .. } => event("destroyed", json!({})),
            Reply::Refreshed { .. }
            | Reply::Left
            | Reply::InviteRotated { .. }
            | Reply::PinSet { .. }
            | Reply::Sent => return None,
        })
    }

    fn push(&self, push: &Push) -> Option<ByteString> {
        Some(match push {
            Push::AttendeeJoined { attendee } => event("attend", Attendee::of(attendee)),
            Push::AttendeeOnline {
                attendee_id, name, ..
            } => event("attend", Attendee::new(attendee_id, name)),
            Push::AttendeeLeft {
                attendee_id,
                name,
                reason,
            } => {
                let name_of_event = match reason {
                    LeaveReason::Kicked => "kicked",
                    LeaveReason::Left | LeaveReason::Timeout => "leave",
                };
                event(name_of_event, Attendee::new(attendee_id, name))
            }
            Push::Kicked { attendee_id, name } => event("kicked", Attendee::new(attendee_id, name)),
            Push::Destroyed { .. } => event("destroyed", json!({})),
            Push::Signal(relay) => signal(relay)?,
            Push::Hangup {
                from,
                from_name,
                call,
            } => {
                #[derive(Serialize)]
                struct Hangup<'a> {
                    attendee: Attendee<'a>,
                    call: Id<'a>,
                }
                let hangup = Hangup {
                    attendee: Attendee::new(from, from_name),
                    call: Id { id: call },
                };
                event("hangup", hangup)
            }
            Push::State {
                from, announced, ..
            } => toggles(from, *announced)?,
            Push::AttendeeOffline { .. } | Push::InviteRotated { .. } => return None,
        })
    }

    /// The socket stays open, as the original server kept it (it only left the
    /// workspace's room): the kicked or replaced membership is simply no longer its.
    fn close(&self, _: CloseReason) -> Option<(u16, &'static str)> {
        None
    }
}

/// A point-to-point signal in webRTCWorkspaces' words.
fn signal(relay: &Relay) -> Option<ByteString> {
    let payload = relay.payload.as_deref();
    let call = relay.call.as_deref().map(|id| Id { id });
    let nonce = relay.nonce.as_deref().unwrap_or("");
    let scene = relay.scene.as_deref();
    let workspace = scene.map(|s| Workspace::of(&s.workspace));
    let sender = Attendee::new(&relay.from, scene.map_or("", |s| &s.sender_name));
    Some(match relay.kind {
        SignalKind::Ring => {
            #[derive(Serialize)]
            struct Ring<'a> {
                workspace: Option<Workspace<'a>>,
                caller: Attendee<'a>,
                offer: Option<&'a RawValue>,
                call: Option<Id<'a>>,
                nonce: &'a str,
            }
            event(
                "ring",
                Ring {
                    workspace,
                    caller: sender,
                    offer: payload,
                    call,
                    nonce,
                },
            )
        }
        SignalKind::Answer => {
            #[derive(Serialize)]
            struct Answer<'a> {
                workspace: Option<Workspace<'a>>,
                callee: Attendee<'a>,
                answer: Option<&'a RawValue>,
                call: Option<Id<'a>>,
                nonce: &'a str,
            }
            event(
                "answer",
                Answer {
                    workspace,
                    callee: sender,
                    answer: payload,
                    call,
                    nonce,
                },
            )
        }
        SignalKind::Busy => {
            #[derive(Serialize)]
            struct Busy<'a> {
                workspace: Option<Workspace<'a>>,
                callee: Attendee<'a>,
                call: Option<Id<'a>>,
            }
            let busy = Busy {
                workspace,
                callee: sender,
                call,
            };
            event("busy", busy)
        }
        SignalKind::IceCandidate => {
            #[derive(Serialize)]
            struct Candidate<'a> {
                attendee: Id<'a>,
                broadcaster: Id<'a>,
                candidate: Option<&'a RawValue>,
            }
            event(
                "icecandidate",
                Candidate {
                    attendee: Id { id: &relay.to },
                    broadcaster: Id { id: &relay.from },
                    candidate: payload,
                },
            )
        }
        SignalKind::Negotiation => {
            #[derive(Serialize)]
            struct Negotiation<'a> {
                attendee: Id<'a>,
                message: &'a RawValue,
            }
            let wrapped;
            let message = match (relay.form, payload) {
                (PayloadForm::Message, Some(message)) => message,
                (_, description) => {
                    wrapped = wrap(description);
                    &*wrapped
                }
            };
            event(
                "negotiation",
                Negotiation {
                    attendee: Id { id: &relay.from },
                    message,
                },
            )
        }
    })
}

/// A native `description` as webRTCWorkspaces' `message {type: description.type,
/// data: description}`.
fn wrap(description: Option<&RawValue>) -> Box<RawValue> {
    let null = RawValue::NULL;
    let description = description.unwrap_or(null);
    let kind = crate::adapters::json::Object::parse(description.get())
        .and_then(|d| d.raw("type").map(RawValue::to_owned));
    #[derive(Serialize)]
    struct Message<'a> {
        #[serde(rename = "type")]
        kind: &'a RawValue,
        data: &'a RawValue,
    }
    let message = Message {
        kind: kind.as_deref().unwrap_or(null),
        data: description,
    };
    serde_json::value::to_raw_value(&message).expect("raw values always encode")
}

/// `mic-toggle` and/or `cam-toggle {attendee:{id}, state}` for what a `state`
/// announced; two events travel as two Engine.IO packets in one outbox text.
fn toggles(from: &str, announced: (Option<bool>, Option<bool>)) -> Option<ByteString> {
    #[derive(Serialize)]
    struct Toggle<'a> {
        attendee: Id<'a>,
        state: bool,
    }
    let toggle = |name, state| {
        let toggle = Toggle {
            attendee: Id { id: from },
            state,
        };
        event(name, toggle)
    };
    match announced {
        (Some(mic), Some(cam)) => {
            let (mic, cam) = (toggle("mic-toggle", mic), toggle("cam-toggle", cam));
            Some(format!("{mic}{ENGINE_SEPARATOR}{cam}").into())
        }
        (Some(mic), None) => Some(toggle("mic-toggle", mic)),
        (None, Some(cam)) => Some(toggle("cam-toggle", cam)),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::Scene;

    fn raw(text: &str) -> Option<Box<RawValue>> {
        Some(RawValue::from_string(text.into()).unwrap())
    }

    fn relay(kind: SignalKind, payload: &str, form: PayloadForm) -> Relay {
        Relay {
            kind,
            from: "_a".into(),
            to: "_b".into(),
            call: kind.has_call().then(|| "c1".into()),
            payload: raw(payload),
            form,
            nonce: None,
            scene: kind.has_call().then(|| {
                Box::new(Scene {
                    workspace: workspace_info(),
                    sender_name: "Ann".into(),
                })
            }),
        }
    }

    fn workspace_info() -> WorkspaceInfo {
        WorkspaceInfo {
            id: "_w".into(),
            name: "W".into(),
            owner: "_a".into(),
            protected: false,
            capacity: 5,
            created_at: 7,
            invite: "inv".into(),
        }
    }

    fn owner() -> AttendeeInfo {
        AttendeeInfo {
            id: "_a".into(),
            name: "Ann".into(),
            role: crate::auth::Role::Owner,
            online: true,
            mic: None,
            cam: None,
        }
    }

    #[test]
    fn created_carries_the_clients_objects_in_their_order() {
        let created = Reply::Created {
            workspace: workspace_info(),
            attendee: owner(),
            token: "tok".into(),
        };
        let frame = codec().reply(Some(&RequestId::Str("n1".into())), &created);
        assert_eq!(
            frame.unwrap().to_string(),
            concat!(
                r#"42["created",{"workspace":{"id":"_w","name":"W","avatar":"","owner":"_a","#,
                r#""created":7,"token":"inv"},"attendee":{"id":"_a","name":"Ann","avatar":""},"#,
                r#""accessToken":"tok","nonce":"n1"}]"#
            )
        );
    }

    fn encoded(push: Push) -> String {
        codec().push(&push).unwrap().to_string()
    }

    #[test]
    fn a_native_ring_reaches_webrtcworkspaces_with_its_caller_workspace_and_call() {
        let ring = relay(
            SignalKind::Ring,
            r#"{"type":"offer","sdp":"v=0"}"#,
            PayloadForm::Bare,
        );
        assert_eq!(
            encoded(Push::Signal(ring)),
            concat!(
                r#"42["ring",{"workspace":{"id":"_w","name":"W","avatar":"","owner":"_a","#,
                r#""created":7,"token":"inv"},"caller":{"id":"_a","name":"Ann","avatar":""},"#,
                r#""offer":{"type":"offer","sdp":"v=0"},"call":{"id":"c1"},"nonce":""}]"#
            )
        );
    }

    #[test]
    fn a_native_description_is_wrapped_as_a_message_and_a_message_passes_untouched() {
        let native = relay(
            SignalKind::Negotiation,
            r#"{"type":"answer","sdp":"x"}"#,
            PayloadForm::Bare,
        );
        assert_eq!(
            encoded(Push::Signal(native)),
            r#"42["negotiation",{"attendee":{"id":"_a"},"message":{"type":"answer","data":{"type":"answer","sdp":"x"}}}]"#
        );
        let message = relay(
            SignalKind::Negotiation,
            r#"{ "type" : "offer", "data" : 1 }"#,
            PayloadForm::Message,
        );
        assert_eq!(
            encoded(Push::Signal(message)),
            r#"42["negotiation",{"attendee":{"id":"_a"},"message":{ "type" : "offer", "data" : 1 }}]"#
        );
    }

    #[test]
    fn candidates_name_target_and_sender() {
        let candidate = relay(
            SignalKind::IceCandidate,
            r#"{"candidate":"c"}"#,
            PayloadForm::Bare,
        );
        assert_eq!(
            encoded(Push::Signal(candidate)),
            r#"42["icecandidate",{"attendee":{"id":"_b"},"broadcaster":{"id":"_a"},"candidate":{"candidate":"c"}}]"#
        );
    }

    #[test]
    fn a_native_state_becomes_one_toggle_per_device_it_announced() {
        let state = |announced| Push::State {
            from: "_a".into(),
            mic: Some(true),
            cam: Some(false),
            announced,
        };
        assert_eq!(
            encoded(state((None, Some(false)))),
            r#"42["cam-toggle",{"attendee":{"id":"_a"},"state":false}]"#
        );
        let both = encoded(state((Some(true), Some(false))));
        let packets: Vec<_> = both.split(ENGINE_SEPARATOR).collect();
        assert_eq!(
            packets,
            [
                r#"42["mic-toggle",{"attendee":{"id":"_a"},"state":true}]"#,
                r#"42["cam-toggle",{"attendee":{"id":"_a"},"state":false}]"#
            ]
        );
        assert!(codec().push(&state((None, None))).is_none());
    }

    #[test]
    fn presence_is_told_as_far_as_webrtcworkspaces_can() {
        let offline = Push::AttendeeOffline {
            attendee_id: "_a".into(),
        };
        assert!(codec().push(&offline).is_none());
        let back = Push::AttendeeOnline {
            attendee_id: "_a".into(),
            name: "Ann".into(),
            replaced: true,
        };
        assert_eq!(
            encoded(back),
            r#"42["attend",{"id":"_a","name":"Ann","avatar":""}]"#
        );
        let gone = |reason| Push::AttendeeLeft {
            attendee_id: "_a".into(),
            name: "Ann".into(),
            reason,
        };
        assert!(encoded(gone(LeaveReason::Timeout)).starts_with(r#"42["leave","#));
        assert!(encoded(gone(LeaveReason::Kicked)).starts_with(r#"42["kicked","#));
    }

    #[test]
    fn grants_say_call_null() {
        let joined = Joined {
            workspace: workspace_info(),
            attendee: owner(),
            token: "tok".into(),
            attendees: vec![],
            call: None,
        };
        let again = codec().reply(None, &Reply::ReAttended(joined)).unwrap();
        assert!(
            again.ends_with(r#""accessToken":"tok","nonce":"","call":null}]"#),
            "{again}"
        );
        assert!(again.contains(r#""token":"inv","call":null}"#), "{again}");
    }
}
