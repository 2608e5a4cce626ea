//! The browser SDK (the npm package in `sdk/`), compiled into the binary: `/switchboard.js`
//! and its modules at `/sdk/*.js` are served whatever `server.public_dir` says, so that an
//! app on another origin, or a server started away from its `public/` directory, still has
//! them. These
//! paths are answered from here even when `public_dir` holds files of the same names:
//! the SDK must speak the protocol of the server that serves it.
//!
//! An upgraded server serves a new SDK under the same names, so browsers revalidate
//! every time (`no-cache`) and an unchanged file costs a 304 (its `ETag` is a hash of
//! its content). CORS for other origins is added by `cors::shared`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::OnceLock;

/// The SDK's files: the path each is served at, and its content. The modules are the
/// npm package's sources (`sdk/src/`), as they are; `/switchboard.js`, the address apps
/// have always imported, re-exports the package's entry point.
const FILES: [(&str, &str); 12] = [
    ("/switchboard.js", "export * from './sdk/index.js';\n"),
    ("/sdk/call.js", include_str!("../../sdk/src/call.js")),
    (
        "/sdk/connection.js",
        include_str!("../../sdk/src/connection.js"),
    ),
    ("/sdk/ice.js", include_str!("../../sdk/src/ice.js")),
    ("/sdk/index.js", include_str!("../../sdk/src/index.js")),
    (
        "/sdk/membership.js",
        include_str!("../../sdk/src/membership.js"),
    ),
    ("/sdk/mesh.js", include_str!("../../sdk/src/mesh.js")),
    ("/sdk/outbox.js", include_str!("../../sdk/src/outbox.js")),
    (
        "/sdk/reconnect.js",
        include_str!("../../sdk/src/reconnect.js"),
    ),
    ("/sdk/session.js", include_str!("../../sdk/src/session.js")),
    ("/sdk/signals.js", include_str!("../../sdk/src/signals.js")),
    (
        "/sdk/switchboard.js",
        include_str!("../../sdk/src/switchboard.js"),
    ),
];

/// RFC 9239's type for JavaScript, which browsers require of a module script.
const CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

/// Whether `path` is one of the SDK's files.
pub(super) fn serves(path: &str) -> bool {
    FILES.iter().any(|(served, _)| *served == path)
}

/// A route for each of the SDK's files.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    for (path, _) in FILES {
        cfg.route(path, web::get().to(serve));
    }
}

/// One of the files, or a 304 when the request names its current `ETag`.
async fn serve(req: HttpRequest) -> HttpResponse {
    let Some(at) = FILES.iter().position(|(path, _)| *path == req.path()) else {
        return HttpResponse::NotFound().finish();
    };
    let etag = &etags()[at];
    let fresh = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*");
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag.as_str()))
        .content_type(CONTENT_TYPE);
    if fresh {
        response.finish()
    } else {
        response.body(FILES[at].1)
    }
}

/// Each file's `ETag`, in the order of [`FILES`]: a quoted hash of its content.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        use md5::Digest;
        FILES
            .iter()
            .map(|(_, content)| {
                let hash = md5::Md5::digest(content.as_bytes());
                let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module added to the package (`sdk/src/`) must be embedded too, or the SDK would
    /// fail to load it.
    #[test]
    fn every_module_of_the_sdk_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let sdk = std::fs::read_dir(root.join("sdk/src")).unwrap();
        let mut on_disk: Vec<String> = sdk
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".js"))
            .map(|name| format!("/sdk/{name}"))
            .collect();
        on_disk.push("/switchboard.js".into());
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }
}
