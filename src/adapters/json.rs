//! A JSON object whose values stay raw text: the compatible protocols route on one or
//! two fields and pass every other field on byte for byte, in the sender's order.

use bytestring::ByteString;
use indexmap::IndexMap;
use serde_json::value::RawValue;

/// A JSON object, field order kept; a repeated key keeps its first place and its last
/// value, as `JSON.parse` does.
pub(crate) struct Object(IndexMap<String, Box<RawValue>>);

/// What a routing field holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Absent,
    Null,
    /// A string, perhaps empty.
    Text(String),
    /// Present, but not a string.
    WrongType,
}

impl Object {
    /// `None` when `text` is not JSON or not an object.
    pub(crate) fn parse(text: &str) -> Option<Object> {
        serde_json::from_str(text).ok().map(Object)
    }

    pub(crate) fn string(&self, key: &str) -> Field {
        let Some(raw) = self.0.get(key) else {
            return Field::Absent;
        };
        if raw.get() == "null" {
            return Field::Null;
        }
        match serde_json::from_str::<String>(raw.get()) {
            Ok(text) => Field::Text(text),
            Err(_) => Field::WrongType,
        }
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&RawValue> {
        self.0.get(key).map(|v| &**v)
    }

    /// Sets `key` to the string `value`: in place when present, else last.
    pub(crate) fn set_string(&mut self, key: &str, value: &str) {
        let raw = serde_json::value::to_raw_value(value).expect("a string always encodes");
        self.0.insert(key.to_string(), raw);
    }

    pub(crate) fn encode(&self) -> ByteString {
        serde_json::to_string(&self.0)
            .expect("raw values and string keys always encode")
            .into()
    }
}

/// Whether `raw` is a JSON object. serde reads a struct from an array too (its elements
/// as the fields, in order); the protocols' objects must be objects.
pub(crate) fn is_object(raw: &str) -> bool {
    raw.trim_start().starts_with('{')
}

/// `#[serde(default, deserialize_with = "json::object_field")]`: an optional field that
/// must be an object (or `null`) when present, read as `T`.
pub(crate) fn object_field<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let raw: Option<Box<RawValue>> = serde::Deserialize::deserialize(deserializer)?;
    match raw {
        None => Ok(None),
        Some(raw) if is_object(raw.get()) => serde_json::from_str(raw.get())
            .map(Some)
            .map_err(D::Error::custom),
        Some(_) => Err(D::Error::custom("expected an object")),
    }
}

/// A frame the server makes, its fields in the order given: the order COMPAT.md writes
/// them in, which is the original servers' order.
pub(crate) fn frame<const N: usize>(fields: [(&str, serde_json::Value); N]) -> ByteString {
    serde_json::to_string(&object(fields))
        .expect("string keys and JSON values always encode")
        .into()
}

/// A JSON object of the server's making, its fields in the order given.
pub(crate) fn object<const N: usize>(
    fields: [(&str, serde_json::Value); N],
) -> IndexMap<&str, serde_json::Value> {
    fields.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_order_and_bytes() {
        let mut obj = Object::parse(r#"{"b":1.50,"senderId":"x","a":{"k": [1, 2]}}"#).unwrap();
        obj.set_string("senderId", "me");
        obj.set_string("z", "new");
        assert_eq!(
            &*obj.encode(),
            r#"{"b":1.50,"senderId":"me","a":{"k": [1, 2]},"z":"new"}"#
        );
    }

    #[test]
    fn server_frames_keep_the_documented_order() {
        let made = frame([("type", "id".into()), ("peerId", "x".into())]);
        assert_eq!(&*made, r#"{"type":"id","peerId":"x"}"#);
    }

    #[test]
    fn routing_fields_are_told_apart() {
        let obj = Object::parse(r#"{"s":"id","e":"","n":null,"w":5}"#).unwrap();
        assert_eq!(obj.string("s"), Field::Text("id".into()));
        assert_eq!(obj.string("e"), Field::Text(String::new()));
        assert_eq!(obj.string("n"), Field::Null);
        assert_eq!(obj.string("w"), Field::WrongType);
        assert_eq!(obj.string("x"), Field::Absent);
    }

    #[test]
    fn only_objects_parse() {
        for text in ["[]", "\"s\"", "null", "1", "{", "{\"a\":}"] {
            assert!(Object::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn object_fields_refuse_arrays_that_serde_would_read_as_structs() {
        #[derive(serde::Deserialize, Debug)]
        struct Inner {
            #[allow(dead_code)]
            id: String,
        }
        #[derive(serde::Deserialize, Debug)]
        struct Outer {
            #[serde(default, deserialize_with = "object_field")]
            inner: Option<Inner>,
        }
        assert!(
            serde_json::from_str::<Inner>(r#"["x"]"#).is_ok(),
            "serde's own reading"
        );
        assert!(serde_json::from_str::<Outer>(r#"{"inner":["x"]}"#).is_err());
        assert!(serde_json::from_str::<Outer>(r#"{"inner":{"id":"x"}}"#)
            .unwrap()
            .inner
            .is_some());
        assert!(serde_json::from_str::<Outer>(r#"{"inner":null}"#)
            .unwrap()
            .inner
            .is_none());
        assert!(serde_json::from_str::<Outer>("{}").unwrap().inner.is_none());
        assert!(is_object(" {}") && !is_object("[]") && !is_object("\"{\""));
    }

    #[test]
    fn odd_keys_are_plain_keys() {
        let obj = Object::parse(r#"{"__proto__":"p","constructor":"c"}"#).unwrap();
        assert_eq!(obj.string("__proto__"), Field::Text("p".into()));
    }
}
