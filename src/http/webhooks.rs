//! Webhook subscriptions (admin only): where Sidak's events are delivered, signed per the
//! Standard Webhooks specification.

use actix_web::web::{Data, Path, Query};
use actix_web::{delete, get, patch, post, HttpResponse};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::deliveries::{self, Logged};
use crate::db::webhooks::WebhookRow;
use crate::db::DbUuid;
use crate::domain::events::{DeliveryStatus, EventType};
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::extract::Json;
use crate::http::paging::{check_limit, decode_seq_cursor, encode_seq_cursor, Page};
use crate::service::webhooks::{self as service, Settings};
use crate::service::Ctx;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to deliver: `http://` or `https://`, at most 2000 characters. Deliveries to
    /// loopback, link-local and private addresses are refused unless the server allows them.
    #[schema(
        example = "https://bkpsdm.serangkota.go.id/hooks/sidak",
        max_length = 2000,
        pattern = r"^[hH][tT][tT][pP][sS]?://[^\s]+$"
    )]
    pub url: String,
    /// The event types to deliver (at least one).
    #[schema(min_items = 1, max_items = 9)]
    pub event_types: Vec<EventType>,
    /// What it is for; at most 500 characters.
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
    )]
    pub description: Option<String>,
    /// Default `true`.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    #[schema(max_length = 2000, pattern = r"^[hH][tT][tT][pP][sS]?://[^\s]+$")]
    pub url: Option<String>,
    #[schema(min_items = 1, max_items = 9)]
    pub event_types: Option<Vec<EventType>>,
    /// An empty text clears it.
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
    )]
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// A subscription; its secret is shown only when made or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<EventType>,
    pub description: Option<String>,
    pub active: bool,
    /// Until when the previous secret, after a rotation, still signs deliveries.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    /// Since when every attempt has failed (`null` after a success); after
    /// three days of it the subscription is turned off.
    pub failing_since: Option<DateTime<Utc>>,
    /// When deliveries turned it off, and why; cleared by turning it on again.
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A subscription with its signing secret, shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_…`: verify deliveries with it (any Standard Webhooks library). Not shown again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// Every subscription.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t)
}

fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Webhook {
            id: r.id.0,
            url: r.url,
            event_types: service::types_from_text(&r.event_types),
            description: r.description,
            active: r.active,
            previous_secret_valid_until: r.previous_valid_until.map(utc),
            failing_since: r.failing_since.and_then(from_ms),
            disabled_at: r.disabled_at.and_then(from_ms),
            disabled_reason: r.disabled_reason,
            created_by: r.created_by.map(|u| u.0),
            created_at: utc(r.created_at),
            updated_at: utc(r.updated_at),
        }
    }
}

/// Create a webhook subscription (admin).
///
/// The answer holds the signing secret once.
#[utoipa::path(
    operation_id = "create_webhook",
    tag = "webhooks",
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Created; `secret` is shown only here", body = WebhookWithSecret, headers(("Location" = String))),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid address, event types or description", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhooks")]
pub async fn create_webhook(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    body: Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let settings = Settings {
        url: Some(b.url),
        event_types: Some(b.event_types),
        description: b.description,
        active: b.active,
    };
    let actor = caller.id;
    let (row, secret) = super::run(&state.pool, move |conn| {
        service::create(conn, &settings, actor, &ctx)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", row.id)))
        .json(WebhookWithSecret {
            webhook: Webhook::from(row),
            secret,
        }))
}

/// List webhook subscriptions (admin).
///
/// Every subscription, oldest first, without its secrets.
#[utoipa::path(
    operation_id = "list_webhooks",
    tag = "webhooks",
    responses(
        (status = 200, description = "Every subscription, oldest first", body = WebhookList),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhooks")]
pub async fn list_webhooks(state: Data<AppState>, caller: AuthUser) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let rows = super::run(&state.pool, |conn| Ok(crate::db::webhooks::all(conn)?)).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        items: rows.into_iter().map(Webhook::from).collect(),
    }))
}

/// Read a webhook subscription (admin).
///
/// Without its secrets: they are shown only when made or rotated.
#[utoipa::path(
    operation_id = "get_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The subscription", body = Webhook),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhooks/{id}")]
pub async fn get_webhook(
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let id = DbUuid(id.into_inner());
    let row = super::run(&state.pool, move |conn| {
        crate::db::webhooks::find(conn, id)?.ok_or(crate::error::ApiError::NotFound)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Webhook::from(row)))
}

/// Change a webhook subscription (admin).
///
/// Only the fields given change; `active: false` stops deliveries.
#[utoipa::path(
    operation_id = "update_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "The subscription as it now stands", body = Webhook),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid address, event types or description", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/webhooks/{id}")]
pub async fn update_webhook(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
    body: Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let b = body.0;
    let settings = Settings {
        url: b.url,
        event_types: b.event_types,
        description: b.description,
        active: b.active,
    };
    let (id, actor) = (DbUuid(id.into_inner()), caller.id);
    let row = super::run(&state.pool, move |conn| {
        service::update(conn, id, &settings, actor, &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Webhook::from(row)))
}

/// Rotate a subscription's signing secret (admin).
///
/// The answer holds the new secret once. For 24 hours deliveries carry a signature with
/// each secret, so receivers can switch without missing one.
#[utoipa::path(
    operation_id = "rotate_webhook_secret",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 200, description = "The new secret, shown only here", body = WebhookWithSecret),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhooks/{id}/secret")]
pub async fn rotate_webhook_secret(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (id, actor) = (DbUuid(id.into_inner()), caller.id);
    let (row, secret) = super::run(&state.pool, move |conn| {
        service::rotate(conn, id, actor, &ctx)
    })
    .await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecret {
        webhook: Webhook::from(row),
        secret,
    }))
}

/// Delete a webhook subscription (admin).
///
/// Nothing more is delivered to it.
#[utoipa::path(
    operation_id = "delete_webhook",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/webhooks/{id}")]
pub async fn delete_webhook(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    id: Path<Uuid>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (id, actor) = (DbUuid(id.into_inner()), caller.id);
    super::run(&state.pool, move |conn| {
        service::delete(conn, id, actor, &ctx)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One event's delivery to one subscription, as its last attempt left it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    /// The event's id, sent as `webhook-id` on every attempt.
    #[schema(example = "evt_5f0c6f3a8e6b4f6c9d1e2a3b4c5d6e7f")]
    pub event_id: String,
    pub event_type: EventType,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// Attempts made (since it was last sent again by hand).
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it is tried next; `null` once delivered or failed.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer; `null` when none came (timeout, connection).
    pub response_status: Option<i32>,
    /// The first kilobyte of the last answer's body.
    pub response_body: Option<String>,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl From<Logged> for Delivery {
    fn from(l: Logged) -> Self {
        let d = l.delivery;
        let at = |ms: i64| from_ms(ms).unwrap_or_default();
        Delivery {
            id: d.id.0,
            event_id: l.event_id,
            event_type: l.event_type,
            occurred_at: at(l.occurred_at),
            status: d.status,
            attempts: d.attempts,
            created_at: at(d.created_at),
            last_attempt_at: d.last_attempt_at.and_then(from_ms),
            next_attempt_at: d.next_attempt_at.and_then(from_ms),
            delivered_at: d.delivered_at.and_then(from_ms),
            response_status: d.response_status,
            response_body: d.response_body,
            error: d.error,
        }
    }
}

/// List a subscription's deliveries (admin).
///
/// Newest event first, one page at a time, optionally only those pending, delivered or
/// failed: each with its attempts, the last answer's status and first bytes, the error and
/// the next attempt's time.
#[utoipa::path(
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    params(("id" = Uuid, Path, description = "Subscription id"), DeliveryQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = Page<Delivery>),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    state: Data<AppState>,
    caller: AuthUser,
    id: Path<Uuid>,
    query: Query<DeliveryQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let q = query.into_inner();
    let limit = check_limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(|c| decode_seq_cursor("cursor", c))
        .transpose()?;
    let id = DbUuid(id.into_inner());
    let rows = super::run(&state.pool, move |conn| {
        crate::db::webhooks::find(conn, id)?.ok_or(ApiError::NotFound)?;
        Ok(deliveries::log(conn, id, q.status, before, limit)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        limit,
        |r| encode_seq_cursor(r.delivery.event_seq),
        Delivery::from,
    )))
}

/// Send a delivery again (admin).
///
/// The delivery becomes pending and is tried at once, with the same `webhook-id` and body
/// and a fresh set of retries, whatever its status was. Refused while the subscription is
/// inactive.
#[utoipa::path(
    operation_id = "redeliver_webhook_delivery",
    tag = "webhooks",
    params(
        ("id" = Uuid, Path, description = "Subscription id"),
        ("delivery_id" = Uuid, Path, description = "Delivery id"),
    ),
    responses(
        (status = 202, description = "Pending again; the worker sends it shortly", body = Delivery),
        (status = 403, description = "Caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription or delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The subscription is inactive", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver_webhook_delivery(
    state: Data<AppState>,
    caller: AuthUser,
    ctx: Ctx,
    path: Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    caller.require_admin()?;
    let (webhook, delivery) = path.into_inner();
    let actor = caller.id;
    let row = super::run(&state.pool, move |conn| {
        service::redeliver(conn, DbUuid(webhook), DbUuid(delivery), actor, &ctx)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(Delivery::from(row)))
}
