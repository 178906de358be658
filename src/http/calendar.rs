//! The holiday calendar: read by everyone signed in, kept by admins.

use actix_web::web::{Data, Path, Query};
use actix_web::{delete, get, put, HttpResponse};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthUser;
use crate::domain::calendar::{Holiday, HolidayKind};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::extract::Json;
use crate::service::calendar as service;
use crate::service::Ctx;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HolidayQuery {
    /// The calendar year (default: this year, local).
    #[param(minimum = 1900, maximum = 2100)]
    pub year: Option<i32>,
}

/// A day in the path: `YYYY-MM-DD` between 1900 and 2100.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct HolidayPath {
    /// The day (local), `YYYY-MM-DD`, 1900–2100. (29 February is accepted too, in leap
    /// years, though the pattern leaves it out.)
    #[param(
        pattern = r"^(19[0-9]{2}|20[0-9]{2}|2100)-(((0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01]))|((0[469]|11)-(0[1-9]|[12][0-9]|30))|(02-(0[1-9]|1[0-9]|2[0-8])))$"
    )]
    pub date: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HolidayList {
    pub year: i32,
    /// In date order.
    pub items: Vec<Holiday>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayBody {
    /// 1–200 characters, no control characters.
    #[schema(
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub kind: HolidayKind,
}

/// The holidays of a year.
///
/// Days that are not working days for OPDs working Monday to Friday or Monday to Saturday
/// (shift units work them): the national holidays and cuti bersama of the SKB 3 Menteri
/// shipped with Sidak, the days of `SIDAK_PUBLIC_HOLIDAYS`, and the admins' changes.
/// Absence on these days does not count towards discipline.
#[utoipa::path(
    operation_id = "list_holidays",
    tag = "reference",
    params(HolidayQuery),
    responses(
        (status = 200, description = "The year's holidays", body = HolidayList),
    )
)]
#[get("/api/v1/holidays")]
pub async fn list(
    state: Data<AppState>,
    _caller: AuthUser,
    ctx: Ctx,
    query: Query<HolidayQuery>,
) -> ApiResult<HttpResponse> {
    let year = query.year.unwrap_or_else(|| ctx.today().year());
    if !(crate::domain::dates::EARLIEST_YEAR..=crate::domain::dates::LATEST_YEAR).contains(&year) {
        return Err(ApiError::invalid("year", "must lie between 1900 and 2100"));
    }
    let items = super::run(&state.pool, move |conn| {
        Ok(service::holidays(conn, &ctx)?
            .into_values()
            .filter(|h| h.date.year() == year)
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(HttpResponse::Ok().json(HolidayList { year, items }))
}

/// Add or rename a holiday (admin).
///
/// For a day the shipped calendar lacks (a regional holiday, a cuti bersama added by a
/// later SKB) or has wrong (an estimated date). Recommendations read the calendar when
/// they are asked for, so past absences on the day stop counting at once.
#[utoipa::path(
    operation_id = "put_holiday",
    tag = "reference",
    params(HolidayPath),
    request_body = HolidayBody,
    responses(
        (status = 200, description = "The holiday as it now stands", body = Holiday),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a date between 1900 and 2100, or no name", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/holidays/{date}")]
pub async fn put_holiday(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    date: Path<HolidayPath>,
    body: Json<HolidayBody>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let day = parse_day(&date.date)?;
    let b = body.0;
    let h = super::run(&state.pool, move |conn| {
        service::put(conn, &caller, day, &b.name, b.kind, &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(h))
}

/// Take a holiday back (admin).
///
/// The day becomes a working day again — also a shipped or configured one (the SKB moved
/// it). The audit log keeps what it was.
#[utoipa::path(
    operation_id = "delete_holiday",
    tag = "reference",
    params(HolidayPath),
    responses(
        (status = 204, description = "The day is a working day again"),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The day is not a holiday", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a date between 1900 and 2100", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/holidays/{date}")]
pub async fn delete_holiday(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    date: Path<HolidayPath>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let day = parse_day(&date.date)?;
    super::run(&state.pool, move |conn| {
        service::cancel(conn, &caller, day, &ctx)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

fn parse_day(text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| crate::domain::dates::in_range(*d))
        .ok_or_else(|| ApiError::invalid("date", "must be a date YYYY-MM-DD between 1900 and 2100"))
}
