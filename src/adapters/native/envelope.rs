//! Decoding one inbound text frame into an envelope: `event`, optional `id`, `data`.
//!
//! The decoder never panics and always says what was wrong. It pulls the `id` out first,
//! so that every later failure can still be answered with `re`. `data` stays raw JSON
//! text borrowed from the frame: each request decodes only the fields it knows, and the
//! opaque ones it relays (`sdp`, `candidate`, `description`) are never parsed into a tree.

pub use crate::core::event::RequestId;
use crate::error::{Error, Oversize};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::LazyLock;

pub const MAX_ID_CHARS: usize = 64;

#[derive(Debug)]
pub struct Envelope<'a> {
    pub id: Option<RequestId>,
    pub event: String,
    /// A JSON object (`{}` when the frame had none).
    pub data: &'a RawValue,
}

/// The envelope's fields as written; anything else in the frame is ignored.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// A frame that could not be decoded, with the id to answer when one was usable.
#[derive(Debug)]
pub struct Rejected {
    pub id: Option<RequestId>,
    pub error: Error,
}

pub fn decode(text: &str) -> Result<Envelope<'_>, Rejected> {
    let reject = |id, error| Rejected { id, error };
    if !text.trim_start().starts_with('{') {
        let error = match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Error::bad_request("a frame must be a JSON object"),
            Err(e) => Error::bad_request(format!("not JSON: {e}")),
        };
        return Err(reject(None, error));
    }
    let fields: Fields = serde_json::from_str(text)
        .map_err(|e| reject(None, Error::bad_request(format!("not JSON: {e}"))))?;
    let id = match fields.id.map(parse::<Value>) {
        None | Some(Ok(Value::Null)) => None,
        Some(Ok(raw)) => Some(request_id(raw).map_err(|e| reject(None, e))?),
        Some(Err(e)) => return Err(reject(None, e)),
    };
    let event = match fields.event.map(parse::<Value>) {
        Some(Ok(Value::String(event))) => event,
        Some(_) => return Err(reject(id, Error::bad_request("event must be a string"))),
        None => return Err(reject(id, Error::bad_request("missing field event"))),
    };
    let data = match fields.data {
        None => &**EMPTY_DATA,
        Some(raw) if raw.get() == "null" => &**EMPTY_DATA,
        Some(raw) if raw.get().starts_with('{') => raw,
        Some(_) => return Err(reject(id, Error::bad_request("data must be an object"))),
    };
    Ok(Envelope { id, event, data })
}

/// `"data"` left out, or `null`: an empty object.
static EMPTY_DATA: LazyLock<Box<RawValue>> =
    LazyLock::new(|| RawValue::from_string("{}".to_owned()).expect("{} is valid JSON"));

fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, Error> {
    serde_json::from_str(raw.get()).map_err(|e| Error::bad_request(e.to_string()))
}

fn request_id(raw: Value) -> Result<RequestId, Error> {
    match raw {
        Value::Number(n) => n
            .as_i64()
            .map(RequestId::Int)
            .or_else(|| n.as_u64().map(RequestId::Uint))
            .ok_or_else(|| Error::bad_request("id must be an integer or a string")),
        Value::String(s) if s.chars().count() > MAX_ID_CHARS => {
            Err(Error::TooLarge(Oversize::RequestId(MAX_ID_CHARS)))
        }
        Value::String(s) => Ok(RequestId::Str(s)),
        _ => Err(Error::bad_request("id must be an integer or a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    #[test]
    fn keeps_the_id_of_a_bad_request() {
        let r = decode(r#"{"id":7,"event":3}"#).unwrap_err();
        assert_eq!(r.id, Some(RequestId::Int(7)));
        assert_eq!(r.error.code(), "bad_request");
    }

    #[test]
    fn an_unusable_id_is_not_echoed() {
        let r = decode(r#"{"id":1.5,"event":"attendees"}"#).unwrap_err();
        assert_eq!(r.id, None);
        let r = decode(r#"{"id":{"a":1},"event":"attendees"}"#).unwrap_err();
        assert_eq!(r.id, None);
    }

    #[test]
    fn data_may_be_omitted() {
        let e = decode(r#"{"event":"refresh","id":"a"}"#).unwrap();
        assert_eq!(e.data.get(), "{}");
        assert_eq!(e.id, Some(RequestId::Str("a".into())));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            // Either an envelope or a rejection with a wire code: never a panic.
            if let Err(r) = decode(&text) {
                prop_assert!(matches!(r.error.code(), "bad_request" | "too_large"));
            }
        }

        #[test]
        fn arbitrary_json_objects_never_panic(
            id in proptest::option::of(prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "\\PC{0,80}".prop_map(Value::from),
                Just(Value::Bool(true)),
            ]),
            event in proptest::option::of(prop_oneof![
                "[a-z-]{0,12}".prop_map(Value::from),
                any::<i32>().prop_map(Value::from),
            ]),
            data in proptest::option::of(prop_oneof![
                Just(Value::Object(Map::new())),
                Just(Value::Array(vec![])),
                "\\PC{0,8}".prop_map(Value::from),
            ]),
        ) {
            let mut m = Map::new();
            if let Some(id) = id { m.insert("id".into(), id); }
            if let Some(e) = event { m.insert("event".into(), e); }
            if let Some(d) = data { m.insert("data".into(), d); }
            let text = Value::Object(m).to_string();
            match decode(&text) {
                Ok(env) => {
                    let object = env.data.get().starts_with('{');
                    prop_assert!(object, "data is always an object");
                }
                Err(r) => prop_assert!(matches!(r.error.code(), "bad_request" | "too_large")),
            }
        }
    }
}
