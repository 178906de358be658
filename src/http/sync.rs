//! The phone's offline cache: what changed in the reference data since a cursor.

use actix_web::web::{Data, Query};
use actix_web::{get, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::db::{self, reference as refdb};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::officials::{Official, READERS};
use crate::http::opds::Opd;
use crate::http::paging::{decode_seq_cursor, encode_seq_cursor};
use crate::state::AppState;

pub const SYNC_DEFAULT_LIMIT: i64 = 500;
pub const SYNC_MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SyncQuery {
    /// `next_cursor` of the previous sync; absent for everything.
    pub since: Option<String>,
    /// Records per answer, 1–1000 (default 500).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// OPDs and officials created, changed or deactivated since the cursor (deactivated ones
/// with `active: false`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncResponse {
    pub opds: Vec<Opd>,
    pub officials: Vec<Official>,
    /// Pass as `since` next time. Never skips a change, even one committing while this
    /// answer was being read.
    pub next_cursor: String,
    /// More changes wait: call again with `next_cursor` straight away.
    pub has_more: bool,
}

/// Reference data changed since a cursor.
///
/// OPDs and officials changed after `since`, in order, for the phone's offline cache;
/// follow `next_cursor` until `has_more` is `false`, and keep it for the next sync.
#[utoipa::path(
    tag = "reference",
    params(SyncQuery),
    responses(
        (status = 200, description = "Changes since the cursor", body = SyncResponse),
        (status = 403, description = "Viewers may not see personal data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/sync")]
pub async fn sync(
    state: Data<AppState>,
    caller: AuthUser,
    query: Query<SyncQuery>,
) -> ApiResult<HttpResponse> {
    caller.require(&READERS)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(SYNC_DEFAULT_LIMIT);
    if !(1..=SYNC_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {SYNC_MAX_LIMIT}"),
        ));
    }
    let since = match query.since.as_deref() {
        None | Some("") => 0,
        Some(c) => decode_seq_cursor("since", c)?,
    };
    let (opds, officials, has_more) = super::run(&state.pool, move |conn| {
        db::read_snapshot(conn, |conn| {
            Ok::<_, ApiError>(refdb::changes_since(conn, since, limit)?)
        })
    })
    .await?;
    let last = opds
        .iter()
        .map(|o| o.sync_seq)
        .chain(officials.iter().map(|o| o.official.sync_seq))
        .max()
        .unwrap_or(since);
    Ok(HttpResponse::Ok().json(SyncResponse {
        opds: opds.into_iter().map(Opd::from).collect(),
        officials: officials.into_iter().map(Official::new).collect(),
        next_cursor: encode_seq_cursor(last),
        has_more,
    }))
}
