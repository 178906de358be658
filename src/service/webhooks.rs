//! Webhook subscriptions: where events go (admins manage them; every change is audited,
//! never with the secret). The secret is made here, shown once, and can be rotated: the
//! previous one keeps signing beside the new one for [`ROTATION_GRACE_HOURS`].

use serde_json::json;
use uuid::Uuid;

use crate::db::webhooks::{self as store, WebhookRow};
use crate::db::{audit, now, write_tx, DbConnection, DbUuid};
use crate::domain::events::EventType;
use crate::domain::webhook_signature::Secret;
use crate::error::{ApiError, FieldError};
use crate::service::Ctx;

/// How long a rotated secret still signs deliveries.
pub const ROTATION_GRACE_HOURS: i64 = 24;
pub const URL_MAX: usize = 2000;
pub const DESCRIPTION_MAX: usize = 500;

/// What a subscription is set to (for a change: only what is given).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub url: Option<String>,
    pub event_types: Option<Vec<EventType>>,
    /// `Some("")` clears it.
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// The event types, as stored.
pub fn types_to_text(types: &[EventType]) -> String {
    let mut t: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    t.sort_unstable();
    t.dedup();
    t.join(" ")
}

pub fn types_from_text(text: &str) -> Vec<EventType> {
    text.split(' ').filter_map(EventType::parse).collect()
}

/// An `http://` or `https://` address with a host, no credentials, no fragment. Where it
/// resolves to is judged at delivery.
fn check_url(url: &str, errors: &mut Vec<FieldError>) {
    if url.chars().count() > URL_MAX {
        errors.push(FieldError::new(
            "url",
            format!("must be at most {URL_MAX} characters"),
        ));
        return;
    }
    match url::Url::parse(url) {
        Ok(u) if !matches!(u.scheme(), "http" | "https") => errors.push(FieldError::new(
            "url",
            "must be an http:// or https:// address",
        )),
        Ok(u) if u.host_str().is_none_or(str::is_empty) => {
            errors.push(FieldError::new("url", "must name a host"))
        }
        Ok(u) if !u.username().is_empty() || u.password().is_some() => errors.push(
            FieldError::new("url", "must not carry a user name or password"),
        ),
        Ok(u) if u.fragment().is_some() => {
            errors.push(FieldError::new("url", "must not have a fragment (#…)"))
        }
        Ok(_) => {}
        Err(_) => errors.push(FieldError::new("url", "is not an address")),
    }
}

fn check(settings: &Settings, creating: bool) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    match &settings.url {
        Some(u) => check_url(u.trim(), &mut errors),
        None if creating => errors.push(FieldError::new("url", "is required")),
        None => {}
    }
    match &settings.event_types {
        Some(t) if t.is_empty() => errors.push(FieldError::new(
            "event_types",
            "must name at least one event type",
        )),
        Some(t) if t.len() > EventType::ALL.len() => errors.push(FieldError::new(
            "event_types",
            format!("must name at most {} event types", EventType::ALL.len()),
        )),
        None if creating => errors.push(FieldError::new("event_types", "is required")),
        _ => {}
    }
    if let Some(d) = &settings.description {
        if d.chars().count() > DESCRIPTION_MAX {
            errors.push(FieldError::new(
                "description",
                format!("must be at most {DESCRIPTION_MAX} characters"),
            ));
        } else if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            errors.push(FieldError::new(
                "description",
                "must not contain control characters",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

fn description(d: &Option<String>) -> Option<String> {
    d.as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
}

/// The audit entry's view of a subscription (never its secrets).
fn audited(row: &WebhookRow) -> serde_json::Value {
    json!({ "url": row.url, "event_types": row.event_types, "active": row.active,
            "description": row.description, "disabled_reason": row.disabled_reason })
}

/// Creates a subscription; returns it with its secret (shown once).
pub fn create(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<(WebhookRow, String), ApiError> {
    check(settings, true)?;
    let secret = Secret::generate().to_text();
    let at = now();
    let row = WebhookRow {
        id: DbUuid(Uuid::new_v4()),
        url: settings
            .url
            .as_deref()
            .unwrap_or_default()
            .trim()
            .to_string(),
        event_types: types_to_text(settings.event_types.as_deref().unwrap_or_default()),
        description: description(&settings.description),
        active: settings.active.unwrap_or(true),
        secret: secret.clone(),
        previous_secret: None,
        previous_valid_until: None,
        created_by: Some(DbUuid(actor)),
        created_at: at,
        updated_at: at,
        failing_since: None,
        disabled_at: None,
        disabled_reason: None,
    };
    write_tx(conn, |conn| {
        store::insert(conn, &row)?;
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "webhook.create",
                "webhook",
                Some(row.id.to_string()),
                audited(&row),
            ),
        )?;
        Ok::<_, ApiError>(())
    })?;
    Ok((row, secret))
}

/// Changes what `settings` gives.
pub fn update(
    conn: &mut DbConnection,
    id: DbUuid,
    settings: &Settings,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<WebhookRow, ApiError> {
    check(settings, false)?;
    write_tx(conn, |conn| {
        let before = store::find(conn, id)?.ok_or(ApiError::NotFound)?;
        let mut row = before.clone();
        if let Some(u) = &settings.url {
            row.url = u.trim().to_string();
        }
        if let Some(t) = &settings.event_types {
            row.event_types = types_to_text(t);
        }
        if settings.description.is_some() {
            row.description = description(&settings.description);
        }
        if let Some(a) = settings.active {
            // Turning it on again starts afresh: the failing streak and the reason it was
            // turned off are forgotten (they stay in the audit log).
            if a && !row.active {
                row.failing_since = None;
                row.disabled_at = None;
                row.disabled_reason = None;
            }
            row.active = a;
        }
        // Nothing to change: nothing written, nothing audited.
        if audited(&row) == audited(&before) {
            return Ok(before);
        }
        row.updated_at = now();
        store::update(conn, &row)?;
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "webhook.update",
                "webhook",
                Some(id.to_string()),
                json!({ "before": audited(&before), "after": audited(&row) }),
            ),
        )?;
        Ok(row)
    })
}

/// A new secret; the previous one keeps signing for [`ROTATION_GRACE_HOURS`].
pub fn rotate(
    conn: &mut DbConnection,
    id: DbUuid,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<(WebhookRow, String), ApiError> {
    let secret = Secret::generate().to_text();
    write_tx(conn, |conn| {
        let mut row = store::find(conn, id)?.ok_or(ApiError::NotFound)?;
        let at = now();
        row.previous_secret = Some(std::mem::replace(&mut row.secret, secret.clone()));
        row.previous_valid_until = Some(at + chrono::Duration::hours(ROTATION_GRACE_HOURS));
        row.updated_at = at;
        store::update(conn, &row)?;
        audit::append(
            conn,
            ctx.audit(Some(actor), "webhook.rotate_secret", "webhook", Some(id.to_string()),
                json!({ "previous_valid_until": row.previous_valid_until.map(|t| t.and_utc().to_rfc3339()) })),
        )?;
        Ok((row, secret.clone()))
    })
}

pub fn delete(conn: &mut DbConnection, id: DbUuid, actor: Uuid, ctx: &Ctx) -> Result<(), ApiError> {
    write_tx(conn, |conn| {
        let row = store::find(conn, id)?.ok_or(ApiError::NotFound)?;
        store::delete(conn, id)?;
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "webhook.delete",
                "webhook",
                Some(id.to_string()),
                audited(&row),
            ),
        )?;
        Ok(())
    })
}

/// Sends a delivery again: pending, due now, with a fresh set of retries (audited). Refused
/// while the subscription is inactive: nothing would be sent.
pub fn redeliver(
    conn: &mut DbConnection,
    webhook: DbUuid,
    delivery: DbUuid,
    actor: Uuid,
    ctx: &Ctx,
) -> Result<crate::db::deliveries::Logged, ApiError> {
    use crate::db::deliveries;
    write_tx(conn, |conn| {
        let hook = store::find(conn, webhook)?.ok_or(ApiError::NotFound)?;
        let before = deliveries::find(conn, webhook, delivery)?.ok_or(ApiError::NotFound)?;
        if !hook.active {
            return Err(ApiError::Conflict(
                "the subscription is inactive: turn it on (PATCH active: true) first".into(),
            ));
        }
        deliveries::resend(conn, delivery, chrono::Utc::now().timestamp_millis())?;
        audit::append(
            conn,
            ctx.audit(
                Some(actor),
                "webhook.redeliver",
                "webhook",
                Some(webhook.to_string()),
                json!({ "delivery_id": delivery.to_string(), "event_id": before.event_id,
                        "status_before": before.delivery.status.as_str() }),
            ),
        )?;
        deliveries::find(conn, webhook, delivery)?.ok_or(ApiError::NotFound)
    })
}
