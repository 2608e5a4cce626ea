//! `switchboard admin ...`: the admin API from a shell. Each command is one request;
//! the answer's JSON is printed as it came, and an error answer (its `code` and
//! `message`) makes the command fail, so that scripts can rely on the exit status.

use clap::Subcommand;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use thiserror::Error;

/// One admin API call.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Lists workspaces, newest first; QUERY filters by id or name.
    Workspaces { query: Option<String> },
    /// Shows one workspace with its members.
    Workspace { id: String },
    /// Removes a member for good; with --ban, its address too, and the invite changes.
    Kick {
        id: String,
        attendee_id: String,
        #[arg(long)]
        ban: bool,
    },
    /// Makes every invite of the workspace worthless and prints the new one.
    RotateInvite { id: String },
    /// Ends a workspace for everyone in it.
    Destroy { id: String },
    /// Lists the peers of the peer-id endpoints.
    Peers {
        /// signal_fire, bootstrap or peero.
        #[arg(long)]
        protocol: Option<String>,
    },
    /// Drains the node: clients move elsewhere, and the server exits once they are gone.
    Drain,
    /// Connections, workspaces, members, relayed messages and alerts, now.
    Stats,
}

#[derive(Debug, Error)]
pub enum AdminError {
    #[error("ADMIN_TOKEN is not set: put the server's admin token in the environment")]
    NoToken,
    #[error("cannot reach the admin API at {url}: {cause}")]
    Unreachable { url: String, cause: reqwest::Error },
    #[error("the server answered {status}: {code}: {message}")]
    Refused {
        status: StatusCode,
        code: String,
        message: String,
    },
}

/// Runs `command` against the server at `base` (`http://host:port`) with `token`;
/// returns the answer's JSON.
pub async fn call(
    base: &str,
    token: Option<&str>,
    command: AdminCommand,
) -> Result<Value, AdminError> {
    let token = token.filter(|t| !t.is_empty()).ok_or(AdminError::NoToken)?;
    let (method, path, body) = request(command);
    let url = format!("{}/admin/api{path}", base.trim_end_matches('/'));
    let unreachable = |cause| AdminError::Unreachable {
        url: url.clone(),
        cause,
    };
    let mut builder = reqwest::Client::new()
        .request(method, &url)
        .bearer_auth(token);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder.send().await.map_err(unreachable)?;
    let status = response.status();
    let answer: Value = response.json().await.map_err(unreachable)?;
    if status.is_success() {
        return Ok(answer);
    }
    let field = |name| answer[name].as_str().unwrap_or_default().to_string();
    Err(AdminError::Refused {
        status,
        code: field("code"),
        message: field("message"),
    })
}

/// The method, the path under `/admin/api` and the body of `command`.
fn request(command: AdminCommand) -> (Method, String, Option<Value>) {
    let at = |id: &str| format!("/workspaces/{}", encode(id));
    match command {
        AdminCommand::Workspaces { query } => {
            let query = query
                .map(|q| format!("?q={}", encode(&q)))
                .unwrap_or_default();
            (Method::GET, format!("/workspaces{query}"), None)
        }
        AdminCommand::Workspace { id } => (Method::GET, at(&id), None),
        AdminCommand::Kick {
            id,
            attendee_id,
            ban,
        } => (
            Method::POST,
            format!("{}/kick", at(&id)),
            Some(json!({"attendee_id": attendee_id, "ban": ban})),
        ),
        AdminCommand::RotateInvite { id } => {
            (Method::POST, format!("{}/rotate-invite", at(&id)), None)
        }
        AdminCommand::Destroy { id } => (Method::DELETE, at(&id), None),
        AdminCommand::Peers { protocol } => {
            let query = protocol
                .map(|p| format!("?protocol={}", encode(&p)))
                .unwrap_or_default();
            (Method::GET, format!("/peers{query}"), None)
        }
        AdminCommand::Drain => (Method::POST, "/drain".into(), None),
        AdminCommand::Stats => (Method::GET, "/stats".into(), None),
    }
}

/// Percent-encodes everything but letters and digits: safe in a path segment and in a
/// query value alike.
fn encode(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC).to_string()
}
