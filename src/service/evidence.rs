//! Photo evidence: who may add a photo to a report and when, how many, and recording the
//! stored bytes as evidence (a replay of the same id and bytes is recognised).

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::db::audit;
use crate::db::inspections::{self as idb, EvidenceRow};
use crate::db::{now, write_tx, DbConnection, DbUuid};
use crate::domain::inspection::{not_in_future, ts, validate_location, Location};
use crate::error::{ApiError, FieldError};
use crate::service::access::{check_evidence_allowed, load_visible};
use crate::service::{Caller, Created, Ctx};

/// What limits photos: how long after submission the author may still add them, and how
/// many one report may hold (`SIDAK_EVIDENCE_WINDOW_DAYS`, `SIDAK_EVIDENCE_MAX_PER_REPORT`).
struct EvidenceRules {
    window: std::time::Duration,
    max_per_report: usize,
}

impl EvidenceRules {
    fn of(ctx: &Ctx) -> Self {
        EvidenceRules {
            window: ctx.config.evidence_window,
            max_per_report: ctx.config.evidence_max_per_report as usize,
        }
    }
}

/// The bytes of a photo, already stored and checked: their digest, type and size.
#[derive(Debug, Clone)]
pub struct StoredPhoto {
    pub sha256: String,
    pub content_type: &'static str,
    pub size_bytes: i64,
}

/// Evidence metadata sent with a photo.
#[derive(Debug, Clone)]
pub struct EvidenceInput {
    pub id: Uuid,
    pub finding_id: Option<Uuid>,
    pub captured_at: Option<DateTime<Utc>>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

/// Records stored bytes as evidence of a report. The same id with the same bytes is a
/// replay; with other bytes a conflict. New evidence needs the author (or an admin), and a
/// draft or a report submitted within `rules.window`, and room for one more photo.
pub fn add_evidence(
    conn: &mut DbConnection,
    caller: &Caller,
    inspection: DbUuid,
    meta: &EvidenceInput,
    photo: &StoredPhoto,
    ctx: &Ctx,
) -> Result<(Created, EvidenceRow), ApiError> {
    let (sha256, size_bytes) = (photo.sha256.as_str(), photo.size_bytes);
    write_tx(conn, |conn| {
        if let Some(replay) = check_evidence(conn, caller, inspection, meta, sha256, ctx)? {
            return Ok((Created::Replay, replay));
        }
        let new = EvidenceRow {
            id: DbUuid(meta.id),
            inspection_id: inspection,
            finding_id: meta.finding_id.map(DbUuid),
            sha256: sha256.to_string(),
            content_type: photo.content_type.to_string(),
            size_bytes,
            captured_at: meta.captured_at.map(ts),
            latitude: meta.latitude,
            longitude: meta.longitude,
            uploaded_by: DbUuid(caller.id),
            created_at: now(),
        };
        idb::insert_evidence(conn, &new)?;
        crate::db::outbox::append_all(conn, &[crate::service::events::evidence_added(&new)])?;
        audit::append(
            conn,
            ctx.audit(
                Some(caller.id),
                "evidence.add",
                "evidence",
                Some(new.id.to_string()),
                json!({ "inspection_id": inspection.to_string(), "sha256": sha256, "size_bytes": size_bytes }),
            ),
        )?;
        Ok((Created::New, new))
    })
}

/// Everything that decides an upload, short of writing it: `Some` for a replay, an error
/// for a refusal. Run before the bytes are stored (so a refused upload stores nothing) and
/// again inside the writing transaction.
pub fn check_evidence(
    conn: &mut DbConnection,
    caller: &Caller,
    inspection: DbUuid,
    meta: &EvidenceInput,
    sha256: &str,
    ctx: &Ctx,
) -> Result<Option<EvidenceRow>, ApiError> {
    let rules = EvidenceRules::of(ctx);
    let row = load_visible(conn, caller, inspection)?;
    if let Some(existing) = idb::find_evidence(conn, DbUuid(meta.id))? {
        if existing.inspection_id == inspection && existing.sha256 == sha256 {
            return Ok(Some(existing));
        }
        return Err(ApiError::Conflict(format!(
            "Evidence {} already exists with other bytes or for another report; evidence is never replaced.",
            meta.id
        )));
    }
    check_evidence_allowed(caller, &row, rules.window)?;
    let held = idb::evidence_of(conn, inspection)?.len();
    if held >= rules.max_per_report {
        return Err(ApiError::invalid(
            "file",
            format!(
                "this report already holds {held} photos, the most one report may hold (SIDAK_EVIDENCE_MAX_PER_REPORT)"
            ),
        ));
    }
    let mut errors = Vec::new();
    if let Some(t) = meta.captured_at {
        not_in_future("meta.captured_at", t, Utc::now(), &mut errors);
    }
    let loc = match (meta.latitude, meta.longitude) {
        (Some(latitude), Some(longitude)) => Some(Location {
            latitude,
            longitude,
            accuracy_m: None,
        }),
        (None, None) => None,
        _ => {
            errors.push(FieldError::new(
                "meta.latitude",
                "latitude and longitude come together",
            ));
            None
        }
    };
    validate_location(&loc, &mut errors);
    if let Some(f) = meta.finding_id {
        match idb::find_finding(conn, DbUuid(f))? {
            Some(found) if found.inspection_id == inspection => {}
            _ => errors.push(FieldError::new(
                "meta.finding_id",
                "is not a finding of this report",
            )),
        }
    }
    if errors.is_empty() {
        Ok(None)
    } else {
        Err(ApiError::Validation(errors))
    }
}
