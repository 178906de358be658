//! Request extractors with problem+json errors: a JSON body extractor that names the field
//! that failed, the request id, and the client address.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{ready, LocalBoxFuture, Ready};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// Default JSON body limit; a route that needs more names its own as `Json<T, LIMIT>`.
pub const DEFAULT_JSON_LIMIT: usize = 64 * 1024;

/// A JSON body. Wrong content type → 415, too large → 413, malformed → 400, well-formed
/// but not the expected shape (unknown field, wrong type, missing field) → 422 naming the
/// field.
pub struct Json<T, const LIMIT: usize = DEFAULT_JSON_LIMIT>(pub T);

/// Reads the whole body after checking its media type (`415`) and size (`413`, from the
/// declared `Content-Length` before reading, and while reading).
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
    accepts: fn(&mime::Mime) -> bool,
    wanted: &'static str,
) -> LocalBoxFuture<'static, Result<Vec<u8>, ApiError>> {
    let content_type_ok = req.mime_type().ok().flatten().is_some_and(|m| accepts(&m));
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut payload = payload.take();
    Box::pin(async move {
        if !content_type_ok {
            return Err(ApiError::UnsupportedMediaType(format!(
                "The request body must be {wanted}."
            )));
        }
        if declared_len.is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit));
        }
        let mut body = Vec::with_capacity(declared_len.unwrap_or(0).min(limit as u64) as usize);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::unreadable("The request body", &e))?;
            if body.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    })
}

fn is_json(m: &mime::Mime) -> bool {
    m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")
}

fn is_csv(m: &mime::Mime) -> bool {
    m.type_() == "text" && m.subtype() == "csv"
}

impl<T: DeserializeOwned + 'static, const LIMIT: usize> FromRequest for Json<T, LIMIT> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(
            req,
            payload,
            LIMIT,
            is_json,
            "JSON (Content-Type: application/json)",
        );
        Box::pin(async move { parse_json(&body.await?).map(Json) })
    }
}

/// Size limit of a CSV upload.
pub const CSV_LIMIT: usize = 4 * 1024 * 1024;

/// The largest JSON or CSV body any route takes; see `middleware::body_limit`.
pub const LARGEST_BODY: usize = {
    let report = crate::http::inspections::REPORT_LIMIT;
    if CSV_LIMIT > report {
        CSV_LIMIT
    } else {
        report
    }
};

/// A `text/csv` body of at most [`CSV_LIMIT`] bytes.
pub struct CsvBody(pub Vec<u8>);

impl FromRequest for CsvBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(
            req,
            payload,
            CSV_LIMIT,
            is_csv,
            "CSV (Content-Type: text/csv)",
        );
        Box::pin(async move {
            let body = body.await?;
            // No stored text may hold NUL (PostgreSQL text cannot): refused for both databases.
            if let Some(at) = body.iter().position(|b| *b == 0) {
                let line = body[..at].iter().filter(|b| **b == b'\n').count() + 1;
                return Err(ApiError::invalid(
                    "body",
                    format!("line {line} contains the NUL character"),
                ));
            }
            Ok(CsvBody(body))
        })
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!("The request body is larger than {limit} bytes."))
}

/// Parses `body` as `T`, telling malformed JSON (400) from a wrong shape (422 with the path).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(value) => {
            // Trailing content after the value is malformed JSON too.
            de.end()
                .map_err(|e| ApiError::BadRequest(format!("Malformed JSON: {e}")))?;
            if let Some(field) = nul_field(body) {
                return Err(ApiError::invalid(
                    field,
                    "must not contain the NUL character (\\u0000)",
                ));
            }
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = strip_position(&inner.to_string());
                    let field = if path == "." {
                        field_from_message(&message).unwrap_or_else(|| "body".into())
                    } else {
                        path
                    };
                    Err(ApiError::Validation(vec![FieldError::new(field, message)]))
                }
                _ => Err(ApiError::BadRequest(format!("Malformed JSON: {inner}"))),
            }
        }
    }
}

/// The path of the first string (or key) holding a NUL character, if any. No text the API
/// stores may hold one (PostgreSQL text cannot), so both databases refuse it alike.
fn nul_field(body: &[u8]) -> Option<String> {
    // JSON can only carry NUL escaped; the full walk runs only when the escape appears.
    if !body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return None;
    }
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        let here = || {
            if path.is_empty() {
                "body".to_string()
            } else {
                path.to_string()
            }
        };
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(here()),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, x)| walk(x, &format!("{path}[{i}]"))),
            serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    Some(here())
                } else {
                    walk(x, &p)
                }
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    walk(&value, "")
}

/// serde's messages end in "at line L column C"; the field path says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// "missing field `x`" / "unknown field `x`" at the top level has the path ".".
fn field_from_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// The id of this request, as sent back in `X-Request-Id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl FromRequest for RequestId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(uuid::Uuid::new_v4().to_string()));
        ready(Ok(id))
    }
}

/// The use-case context of this request: the settings and its request id.
impl FromRequest for crate::service::Ctx {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>() else {
            return ready(Err(ApiError::internal("application state missing")));
        };
        let config = state.config.clone();
        let rid = RequestId::from_request(req, payload).into_inner().ok();
        ready(Ok(crate::service::Ctx::new(config, rid.map(|r| r.0))))
    }
}

/// Whether `Accept` names `media_type` and nothing else (parameters ignored): a client that
/// can only take that type, such as a generated client for a download.
pub fn accepts_only(req: &HttpRequest, media_type: &str) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.split(';').next().unwrap_or("").trim())
                .all(|t| t.eq_ignore_ascii_case(media_type))
        })
}

/// The client's address: the peer, or — only when the peer is a trusted proxy — the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> String {
    let peer = req.peer_addr().map(|a| a.ip());
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .copied()
        .unwrap_or(peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        password: String,
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Validation(errs) => errs[0].field.clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn classifies_errors() {
        assert!(parse_json::<Login>(br#"{"username":"a","password":"b"}"#).is_ok());
        assert!(matches!(
            parse_json::<Login>(br#"{"username":"#),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Login>(b""),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<Login>(br#"{"username":"a","password":"b"} x"#),
            Err(ApiError::BadRequest(_))
        ));
        let e =
            parse_json::<Login>(br#"{"username":"a","password":"b","role":"admin"}"#).unwrap_err();
        assert_eq!(field_of(e), "role");
        let e = parse_json::<Login>(br#"{"username":5,"password":"b"}"#).unwrap_err();
        assert_eq!(field_of(e), "username");
        let e = parse_json::<Login>(br#"{"username":"a"}"#).unwrap_err();
        assert_eq!(field_of(e), "password");
    }
}
