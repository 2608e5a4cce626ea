//! Field rules shared by every event: names, PINs, call ids.
//!
//! Lengths are counted in characters (what a person sees), not bytes. A string over its
//! limit is `too_large`; a string that breaks a rule of shape is `bad_request`.

use crate::error::{Error, Malformed, Oversize, Result};

pub const MAX_NAME_CHARS: usize = 64;
pub const MIN_PIN_CHARS: usize = 4;
pub const MAX_PIN_CHARS: usize = 64;
pub const MAX_CALL_CHARS: usize = 64;
/// Levels of arrays and objects a relayed payload (`sdp`, `candidate`, `description`)
/// may nest: deeper JSON crashes receivers whose parser limits depth (PROTOCOL.md 1.1).
pub const MAX_PAYLOAD_DEPTH: usize = 32;

/// A display name: trimmed, 1 to 64 characters, no control characters; absent or
/// blank gives `default`. Never interpreted as markup, so no other character is banned.
pub fn name(value: Option<&str>, default: &str) -> Result<String> {
    let trimmed = value.map(str::trim).unwrap_or("");
    if trimmed.is_empty() {
        return Ok(default.to_string());
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(Error::TooLarge(Oversize::Name(MAX_NAME_CHARS)));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(Error::BadRequest(Malformed::NameControl));
    }
    Ok(trimmed.to_string())
}

/// A new workspace's PIN: absent or empty means unprotected; otherwise 4 to 64
/// characters without control characters. Not trimmed: what the owner typed is the PIN.
pub fn new_pin(value: Option<&str>) -> Result<Option<String>> {
    let Some(pin) = value.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let chars = pin.chars().count();
    if chars > MAX_PIN_CHARS {
        return Err(Error::TooLarge(Oversize::Pin(MAX_PIN_CHARS)));
    }
    if chars < MIN_PIN_CHARS {
        return Err(Error::BadRequest(Malformed::PinTooShort(MIN_PIN_CHARS)));
    }
    if pin.chars().any(char::is_control) {
        return Err(Error::BadRequest(Malformed::PinControl));
    }
    Ok(Some(pin.to_string()))
}

/// A PIN offered to `attend`: only its length is bounded, so that hashing a stranger's
/// input stays cheap; anything else simply fails to match.
pub fn offered_pin(value: Option<&str>) -> Result<Option<&str>> {
    match value.filter(|p| !p.is_empty()) {
        Some(pin) if pin.chars().count() > MAX_PIN_CHARS => {
            Err(Error::TooLarge(Oversize::Pin(MAX_PIN_CHARS)))
        }
        other => Ok(other),
    }
}

/// A client-chosen call id: 1 to 64 characters.
pub fn call_id(value: &str) -> Result<()> {
    match value.chars().count() {
        0 => Err(Error::BadRequest(Malformed::EmptyCall)),
        n if n > MAX_CALL_CHARS => Err(Error::TooLarge(Oversize::Call(MAX_CALL_CHARS))),
        _ => Ok(()),
    }
}

/// A relayed payload, as raw JSON already known to be valid: at most
/// [`MAX_PAYLOAD_DEPTH`] levels deep, or `bad_request`.
pub fn payload_depth(field: &'static str, json: &str) -> Result<()> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in json.bytes() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if in_string => escaped = true,
            b'"' => in_string = !in_string,
            b'[' | b'{' if !in_string => {
                depth += 1;
                if depth > MAX_PAYLOAD_DEPTH {
                    let max = MAX_PAYLOAD_DEPTH;
                    return Err(Error::BadRequest(Malformed::TooDeep { field, max }));
                }
            }
            b']' | b'}' if !in_string => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn blank_names_take_the_default() {
        assert_eq!(name(None, "Anonymous").unwrap(), "Anonymous");
        assert_eq!(name(Some("   "), "Anonymous").unwrap(), "Anonymous");
        assert_eq!(name(Some("  Ada "), "x").unwrap(), "Ada");
    }

    #[test]
    fn markup_is_kept_as_text() {
        assert_eq!(name(Some("<b>Ada</b>"), "x").unwrap(), "<b>Ada</b>");
    }

    #[test]
    fn pins_have_bounds() {
        assert_eq!(new_pin(None).unwrap(), None);
        assert_eq!(new_pin(Some("")).unwrap(), None);
        assert_eq!(new_pin(Some("12345")).unwrap().as_deref(), Some("12345"));
        assert_eq!(new_pin(Some("123")).unwrap_err().code(), "bad_request");
        assert_eq!(
            new_pin(Some(&"9".repeat(65))).unwrap_err().code(),
            "too_large"
        );
        assert_eq!(new_pin(Some("12\n45")).unwrap_err().code(), "bad_request");
    }

    #[test]
    fn payloads_nest_at_most_32_levels() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(payload_depth("sdp", &nested(32)).is_ok());
        assert_eq!(
            payload_depth("sdp", &nested(33)).unwrap_err().code(),
            "bad_request"
        );
        assert!(payload_depth("sdp", &nested(20_000)).is_err());
        // Brackets inside strings are text, escaped quotes included.
        let text = format!(r#"{{"s":"\"{}"}}"#, "[".repeat(100));
        assert!(payload_depth("sdp", &text).is_ok());
        let wide = format!("[{}]", vec!["[[1]]"; 1000].join(","));
        assert!(payload_depth("sdp", &wide).is_ok());
    }

    proptest! {
        /// The scan agrees with a real parser's idea of depth.
        #[test]
        fn depth_matches_serde(value in arb_json()) {
            let text = value.to_string();
            let ok = payload_depth("x", &text).is_ok();
            prop_assert_eq!(ok, depth_of(&value) <= MAX_PAYLOAD_DEPTH);
        }

        #[test]
        fn accepted_names_obey_every_rule(s in "\\PC{0,80}|[\\x00-\\x20a-z]{0,70}") {
            match name(Some(&s), "Default") {
                Ok(n) => {
                    prop_assert!(!n.is_empty());
                    prop_assert!(n.chars().count() <= MAX_NAME_CHARS);
                    prop_assert!(!n.chars().any(char::is_control));
                    prop_assert_eq!(n.trim(), n.as_str());
                    prop_assert!(n == "Default" || n == s.trim());
                }
                Err(e) => prop_assert!(matches!(e.code(), "too_large" | "bad_request")),
            }
        }

        #[test]
        fn accepted_pins_obey_every_rule(s in "\\PC{0,80}|[\\x00-\\x1f0-9]{0,8}") {
            match new_pin(Some(&s)) {
                Ok(None) => prop_assert!(s.is_empty()),
                Ok(Some(p)) => {
                    prop_assert_eq!(&p, &s);
                    let n = p.chars().count();
                    prop_assert!((MIN_PIN_CHARS..=MAX_PIN_CHARS).contains(&n));
                    prop_assert!(!p.chars().any(char::is_control));
                }
                Err(e) => prop_assert!(matches!(e.code(), "too_large" | "bad_request")),
            }
        }
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            "[\\[\\]{}\"\\\\a-z]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(40, 200, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z{]{1,3}", inner, 0..3)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn depth_of(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
            serde_json::Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
            _ => 0,
        }
    }
}
