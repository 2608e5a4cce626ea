//! The links `import-json` prints: for each workspace its invite, and for each member the
//! demo app signed in as that member (`#session=<token>`, which `public/app/shared.js`
//! takes), at the address the operator gives or the config tells.

use super::ImportError;
use crate::auth::{Role, Tokens};
use crate::config::Config;
use crate::store::{MemberRecord, WorkspaceRecord};

/// What the operator must know before handing the links out.
pub(super) fn header(config: &Config, base: &str, protected: bool) -> Vec<String> {
    let pin = if protected {
        "Imported workspaces are protected with the PIN given by --pin.".to_string()
    } else {
        "Imported workspaces are unprotected: their PINs were bcrypt hashes that cannot be \
         carried over. Run again with --pin to protect them."
            .to_string()
    };
    let days = (config.auth.session_ttl_secs + config.auth.reattend_grace_secs) / 86_400;
    let offline = config.workspace.offline_ttl_secs;
    vec![
        pin,
        format!(
            "Links open the demo app at {base} (--base-url to change it). Each member link \
             signs its browser in as that member: give each only to its member. Links work \
             for {days} days; an attendee's only until the attendee has been offline for \
             {offline} s after the server starts (then the invite admits them anew)."
        ),
    ]
}

/// The invite and the members' links of one imported workspace, owner first.
pub(super) fn links(
    tokens: &Tokens,
    base: &str,
    ws: &WorkspaceRecord,
    members: &[MemberRecord],
) -> Vec<String> {
    let invite = tokens.invite(&ws.id, ws.invite_version);
    let mut lines = vec![
        format!(
            "workspace {} {:?}: {} members",
            ws.id,
            ws.name,
            members.len()
        ),
        format!("  invite: {base}/?invite={invite}"),
    ];
    let owner_first = members
        .iter()
        .filter(|m| m.role == Role::Owner)
        .chain(members.iter().filter(|m| m.role != Role::Owner));
    for member in owner_first {
        let (token, _) = tokens.session(&ws.id, &member.id, member.role);
        let role = match member.role {
            Role::Owner => "owner",
            Role::Attendee => "attendee",
        };
        lines.push(format!(
            "  {role} {} {:?}: {base}/#session={token}",
            member.id, member.name
        ));
    }
    lines
}

/// `--base-url` as given, without a trailing slash; it must be an http(s) URL.
pub(super) fn base_url(url: &str) -> Result<String, ImportError> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(['?', '#', ' ']) => {
            Ok(trimmed.to_string())
        }
        _ => Err(ImportError::BaseUrl(url.to_string())),
    }
}

/// The demo app's address as far as the config tells: https when TLS is on, the first
/// ACME domain or else `server.host` (`localhost` for a wildcard address), and the port
/// unless it is the scheme's own.
pub fn default_base_url(config: &Config) -> String {
    let https = config.tls.enabled;
    let scheme = if https { "https" } else { "http" };
    let (host, port) = config.bind_addr();
    let host = match config.tls.acme.domains.first() {
        Some(domain) if https => domain.clone(),
        _ => match host.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_unspecified() => "localhost".to_string(),
            Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
            _ => host,
        },
    };
    let default_port = if https { 443 } else { 80 };
    if port == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_base_url_follows_the_config() {
        let mut config = Config::default();
        assert_eq!(default_base_url(&config), "http://127.0.0.1:9090");
        config.server.development = false;
        config.server.port = 80;
        assert_eq!(default_base_url(&config), "http://localhost");
        config.tls.enabled = true;
        config.server.port = 443;
        config.server.host = Some("::1".into());
        assert_eq!(default_base_url(&config), "https://[::1]");
        config.tls.acme.domains = vec!["call.example.com".into()];
        config.server.port = 8443;
        assert_eq!(default_base_url(&config), "https://call.example.com:8443");
    }

    #[test]
    fn a_base_url_must_be_http_or_https() {
        assert_eq!(
            base_url("https://call.example.com/").unwrap(),
            "https://call.example.com"
        );
        assert!(base_url("call.example.com").is_err());
        assert!(base_url("https://").is_err());
        assert!(base_url("https://x/?a=b").is_err());
    }
}
