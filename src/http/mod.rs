//! HTTP: handlers, one module per resource; the route registration (`routes`); the
//! 404/405 fallback (`fallback`); extractors and the request middleware.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod dashboards;
pub mod evidence;
pub mod extract;
pub mod fallback;
pub mod followups;
pub mod inspections;
pub mod middleware;
pub mod officials;
pub mod opds;
pub mod ops;
pub mod routes;
pub mod sync;
pub mod users;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};

use std::sync::atomic::{AtomicI64, Ordering};

use crate::error::ApiError;
use utoipa::ToSchema;

/// Runs `f` with a pooled connection on the blocking pool: nothing blocking ever runs on
/// the async workers. The connection is checked out inside the closure.
pub async fn run<T, F>(pool: &crate::db::DbPool, f: F) -> Result<T, crate::error::ApiError>
where
    F: FnOnce(&mut crate::db::DbConnection) -> Result<T, crate::error::ApiError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    let queued = Gauge::enter(&BLOCKING_WAITING);
    actix_web::web::block(move || {
        drop(queued);
        let _running = Gauge::enter(&BLOCKING_RUNNING);
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}

/// Database jobs waiting for a thread of the blocking pool, and running on one (for `/metrics`).
pub static BLOCKING_WAITING: AtomicI64 = AtomicI64::new(0);
pub static BLOCKING_RUNNING: AtomicI64 = AtomicI64::new(0);

/// Counts one job in a gauge while it lives (also when the job is dropped unrun).
struct Gauge(&'static AtomicI64);

impl Gauge {
    fn enter(gauge: &'static AtomicI64) -> Gauge {
        gauge.fetch_add(1, Ordering::Relaxed);
        Gauge(gauge)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list. `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// `limit` within 1..=200 (default 50).
pub fn check_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ))
    }
}

/// Cursors are opaque to clients: base64url of a small JSON object.
pub fn encode_cursor(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "after": after }).to_string())
}

pub fn decode_cursor(field: &str, cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("after").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| ApiError::invalid(field, "is not a cursor returned by this API"))
}

/// For PATCH bodies: `Some(None)` when the field is present and `null`, `None` when absent.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// An optional JSON integer that may also be written `53.0`: JSON Schema counts a number
/// with a zero fraction as an integer, so the API takes it as one.
pub fn whole_number<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(Some)
                .map_err(|_| E::custom(format!("`{v}` is too large")))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Whole and well inside the range where f64 holds every integer exactly.
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                Ok(Some(v as i64))
            } else {
                Err(E::custom(format!("`{v}` is not a whole number in range")))
            }
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Whole)
}

/// The version named by `If-Match: "<n>"`, if any; a malformed one never matches (-1).
pub fn if_match_version(req: &HttpRequest) -> Option<i64> {
    let raw = req.headers().get(header::IF_MATCH)?.to_str().unwrap_or("");
    let t = raw.trim().trim_start_matches("W/").trim_matches('"');
    Some(t.parse::<i64>().unwrap_or(-1))
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A keyset cursor on (time, id), for lists ordered newest first.
pub fn encode_time_cursor(at: chrono::NaiveDateTime, id: crate::db::DbUuid) -> String {
    encode_cursor(&format!("{}|{id}", at.format(CURSOR_TIME)))
}

pub fn decode_time_cursor(
    cursor: &str,
) -> Result<(chrono::NaiveDateTime, crate::db::DbUuid), ApiError> {
    let raw = decode_cursor("cursor", cursor)?;
    raw.split_once('|')
        .and_then(|(t, id)| {
            Some((
                chrono::NaiveDateTime::parse_from_str(t, CURSOR_TIME).ok()?,
                crate::db::DbUuid(uuid::Uuid::parse_str(id).ok()?),
            ))
        })
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor returned by this API"))
}

/// A JSON response with a strong `ETag` from the record's change number; `304` when the
/// client's `If-None-Match` already names it.
pub fn json_with_etag<T: Serialize>(req: &HttpRequest, version: i64, body: &T) -> HttpResponse {
    let etag = format!("\"{version}\"");
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|t| {
                let t = t.trim();
                t == "*" || t == etag || t.strip_prefix("W/") == Some(etag.as_str())
            })
        });
    if matches {
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish()
    } else {
        HttpResponse::Ok()
            .insert_header((header::ETAG, etag))
            .json(body)
    }
}
