//! ETags and conditional requests, with actix-web's typed headers (`ETag`, `IfMatch`,
//! `IfNoneMatch`). A record's ETag is its change number (`"<version>"`); a photo's is its
//! SHA-256; a dashboard answer's a digest of what it depends on. `If-None-Match` compares
//! weakly (RFC 9110 §13.1.2); `If-Match` names the version a change was based on.

use actix_web::http::header::{self, EntityTag, Header, IfMatch, IfNoneMatch};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::Serialize;

/// The strong ETag of a record's change number.
pub fn version_tag(version: i64) -> EntityTag {
    EntityTag::new_strong(version.to_string())
}

/// The version a change is based on, from `If-Match: "<n>"` (a weak `W/"<n>"` or a bare
/// `<n>` is taken too): `None` without the header; anything that is not one version (`*`,
/// a list, garbage) never matches (`Some(-1)`).
pub fn if_match_version(req: &HttpRequest) -> Option<i64> {
    let raw = req.headers().get(header::IF_MATCH)?;
    let named = match IfMatch::parse(req) {
        Ok(IfMatch::Items(tags)) if tags.len() == 1 => tags[0].tag().parse::<i64>().ok(),
        Ok(_) => None,
        Err(_) => raw.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()),
    };
    Some(named.unwrap_or(-1))
}

/// Whether `If-None-Match` names `tag` (or is `*`): the client already holds this version.
pub fn none_match(req: &HttpRequest, tag: &EntityTag) -> bool {
    match IfNoneMatch::parse(req) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(tag)),
        Err(_) => false,
    }
}

/// `304 Not Modified` with the ETag.
pub fn not_modified(tag: EntityTag) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header(header::ETag(tag))
        .finish()
}

/// A JSON answer with the record's ETag; `304` when `If-None-Match` already names it.
pub fn json_with_etag<T: Serialize>(req: &HttpRequest, version: i64, body: &T) -> HttpResponse {
    let tag = version_tag(version);
    if none_match(req, &tag) {
        return not_modified(tag);
    }
    HttpResponse::Ok()
        .insert_header(header::ETag(tag))
        .json(body)
}

/// Any JSON answer (`status`) carrying the record's ETag, for writes that answer with the
/// record as it now stands.
pub fn with_version<T: Serialize>(
    mut builder: HttpResponseBuilder,
    version: i64,
    body: &T,
) -> HttpResponse {
    builder
        .insert_header(header::ETag(version_tag(version)))
        .json(body)
}
