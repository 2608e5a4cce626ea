//! `GET /admin`: the admin console, one page and its script, built into the binary so
//! that it is there whatever `public_dir` holds. The page asks for the token and sends
//! it with every API call; without it, it shows nothing but the prompt.

use actix_web::http::header;
use actix_web::HttpResponse;

const PAGE: &str = include_str!("console.html");
const SCRIPT: &str = include_str!("console.js");

pub(super) async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(PAGE)
}

pub(super) async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(SCRIPT)
}
