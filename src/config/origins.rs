//! `[server] allowed_origins`: the web origins whose pages may open a WebSocket (and, on
//! the Socket.IO endpoint, make CORS requests). Empty means any origin.
//!
//! An origin is `scheme://host[:port]` (RFC 6454 §6.1, the form browsers send in the
//! `Origin` header); entries are compared without regard to case. A request without an
//! `Origin` header comes from a program, not a page, and is not an origin to refuse.

use super::ConfigError;

/// Normalises the configured origins, refusing anything that is not an origin.
pub(crate) fn parse(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    entries
        .iter()
        .map(|entry| {
            let origin = entry.trim().trim_end_matches('/').to_ascii_lowercase();
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match host {
                Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', ' ']) => {
                    Ok(origin)
                }
                _ => Err(ConfigError::Invalid {
                    key: "server.allowed_origins",
                    message: format!("{entry:?} is not an origin like \"https://app.example.com\""),
                }),
            }
        })
        .collect()
}

/// Whether a request with this `Origin` header (raw bytes, `None` when absent) may
/// proceed, given the parsed list.
pub(crate) fn allows(allowed: &[String], origin: Option<&[u8]>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    allowed.is_empty()
        || std::str::from_utf8(origin)
            .is_ok_and(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_without_case_and_without_a_trailing_slash() {
        let allowed = parse(&["https://App.example.com/".into()]).unwrap();
        assert!(allows(&allowed, Some(b"https://app.example.com")));
        assert!(!allows(&allowed, Some(b"https://evil.example.com")));
        assert!(!allows(&allowed, Some(b"null")));
        assert!(allows(&allowed, None));
        assert!(allows(&[], Some(b"https://anything.example")));
    }

    #[test]
    fn entries_that_are_not_origins_are_refused() {
        for bad in [
            "app.example.com",
            "https://a.example/path",
            "ftp://x",
            "https://",
        ] {
            assert!(parse(&[bad.into()]).is_err(), "{bad}");
        }
    }
}
