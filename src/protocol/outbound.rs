//! Encoding server-to-client frames: `{"event", "re"?, "data"}`.
//!
//! Frames are encoded once, as shared text, before any lock is taken, so that fanning a
//! push out to many members copies a pointer, not the JSON.

use super::envelope::RequestId;
use crate::error::Error;
use bytestring::ByteString;
use serde::Serialize;
use serde_json::json;

#[derive(Serialize)]
struct Frame<'a, T: Serialize> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    re: Option<&'a RequestId>,
    data: T,
}

/// The success reply to a request.
pub fn reply(re: Option<&RequestId>, event: &str, data: impl Serialize) -> ByteString {
    encode(&Frame { event, re, data })
}

/// An event pushed to other members.
pub fn push(event: &str, data: impl Serialize) -> ByteString {
    encode(&Frame {
        event,
        re: None,
        data,
    })
}

/// `data` of the replies that carry nothing (`sent {}`, `left {}`), encoded without
/// building a JSON map: `sent` answers every relayed signal.
#[derive(Serialize)]
pub struct Empty {}

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

    #[test]
    fn replies_carry_re_and_pushes_do_not() {
        let r = reply(Some(&RequestId::Int(7)), "sent", Empty {});
        assert_eq!(&*r, r#"{"event":"sent","re":7,"data":{}}"#);
        let p = push("attendee-offline", json!({"attendee_id": "_a"}));
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
}
