//! Lists: the page shape, the `limit` bounds and the cursors. Every list orders by a key
//! and fetches `limit + 1` rows; the extra row only tells that another page follows
//! ([`Page::from_rows`]). Cursors are opaque to clients: base64url of `{"after": key}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::db::DbUuid;
use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list. `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// The page of `rows`, fetched as `limit + 1`: at most `limit` items, and the cursor of
    /// the last one when more rows follow.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: i64,
        cursor: impl Fn(&R) -> String,
        item: impl FnMut(R) -> T,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(cursor)
        } else {
            None
        };
        Page {
            items: rows.into_iter().map(item).collect(),
            next_cursor,
        }
    }
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

pub fn encode_cursor(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "after": after }).to_string())
}

/// The key inside a cursor; `field` names the parameter in the error.
pub fn decode_cursor(field: &str, cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| v.get("after").and_then(Value::as_str).map(str::to_string))
        .ok_or_else(|| not_a_cursor(field))
}

fn not_a_cursor(field: &str) -> ApiError {
    ApiError::invalid(field, "is not a cursor returned by this API")
}

/// A keyset cursor on a sequence number (audit entries, sync changes, webhook events).
pub fn encode_seq_cursor(seq: i64) -> String {
    encode_cursor(&seq.to_string())
}

/// The sequence number inside a cursor (never negative); `field` names the parameter.
pub fn decode_seq_cursor(field: &str, cursor: &str) -> Result<i64, ApiError> {
    decode_cursor(field, cursor)?
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| not_a_cursor(field))
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.f";

/// A keyset cursor on (time, id), for lists ordered newest first.
pub fn encode_time_cursor(at: NaiveDateTime, id: DbUuid) -> String {
    encode_cursor(&format!("{}|{id}", at.format(CURSOR_TIME)))
}

pub fn decode_time_cursor(cursor: &str) -> Result<(NaiveDateTime, DbUuid), ApiError> {
    let raw = decode_cursor("cursor", cursor)?;
    raw.split_once('|')
        .and_then(|(t, id)| {
            Some((
                NaiveDateTime::parse_from_str(t, CURSOR_TIME).ok()?,
                DbUuid(uuid::Uuid::parse_str(id).ok()?),
            ))
        })
        .ok_or_else(|| not_a_cursor("cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_at_most_limit_items_and_points_past_the_last() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| n.to_string(), |n: i32| n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor.as_deref(), Some("2"));
        let last = Page::from_rows(vec![1, 2], 2, |n| n.to_string(), |n: i32| n);
        assert_eq!(last.items, vec![1, 2]);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        assert_eq!(
            decode_cursor("cursor", &encode_cursor("K-1"))
                .ok()
                .as_deref(),
            Some("K-1")
        );
        assert!(decode_cursor("cursor", "not a cursor").is_err());
        assert_eq!(
            decode_seq_cursor("cursor", &encode_seq_cursor(42)).unwrap(),
            42
        );
        for bad in [
            encode_cursor("-1"),
            encode_cursor("K-1"),
            "not a cursor".into(),
        ] {
            assert!(decode_seq_cursor("cursor", &bad).is_err(), "{bad}");
        }
        let at = chrono::DateTime::from_timestamp(1_767_225_600, 123_456_000)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        let id = DbUuid(uuid::Uuid::from_u128(7));
        let back = decode_time_cursor(&encode_time_cursor(at, id)).ok();
        assert_eq!(back, Some((at, id)));
    }
}
