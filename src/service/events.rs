//! The webhook events the use cases raise: each is built here, from the rows the change
//! wrote, and appended in the same transaction ([`crate::db::outbox`]). The body follows the
//! Standard Webhooks convention, `{"type", "timestamp", "data"}`; `data` holds ids and what
//! a receiver needs without calling back. Subscriptions are an admin's, and admins may read
//! all of it.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::followups::FollowUpRow;
use crate::db::inspections::{EvidenceRow, InspectionRow};
use crate::db::outbox::NewEvent;
use crate::domain::events::EventType;

/// An event of `event_type` about `subject`, with `data`, happening now.
pub fn new(event_type: EventType, subject: impl ToString, data: Value) -> NewEvent {
    let at = Utc::now();
    let body = json!({
        "type": event_type.as_str(),
        "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "data": data,
    });
    NewEvent {
        id: format!("evt_{}", Uuid::new_v4().simple()),
        event_type,
        subject_id: subject.to_string(),
        occurred_at: at.timestamp_millis(),
        payload: body.to_string(),
    }
}

fn time(t: chrono::NaiveDateTime) -> String {
    Utc.from_utc_datetime(&t)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `inspection.submitted`.
pub fn inspection_submitted(row: &InspectionRow, attendance: usize, findings: usize) -> NewEvent {
    new(
        EventType::InspectionSubmitted,
        row.id,
        json!({
            "inspection_id": row.id.to_string(),
            "opd_id": row.opd_id.to_string(),
            "inspector_id": row.inspector_id.to_string(),
            "started_at": time(row.started_at),
            "submitted_at": row.submitted_at.map(time),
            "attendance_count": attendance,
            "findings_count": findings,
            "distance_m": row.distance_m,
            "within_geofence": row.within_geofence,
        }),
    )
}

/// The fields of a follow-up every follow-up event carries.
fn follow_up_data(row: &FollowUpRow) -> serde_json::Map<String, Value> {
    let v = json!({
        "follow_up_id": row.id.to_string(),
        "official_id": row.official_id.to_string(),
        "status": row.status.as_str(),
        "due_date": row.due_date.to_string(),
        "version": row.version,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// `follow_up.overdue`: an open or in-review follow-up whose due date passed before `today`
/// (local date), with the official's NIP and name.
pub fn follow_up_overdue(
    row: &FollowUpRow,
    official: Option<(&str, &str)>,
    today: chrono::NaiveDate,
) -> NewEvent {
    let mut data = follow_up_data(row);
    if let Some((nip, name)) = official {
        data.insert("official_nip".into(), json!(nip));
        data.insert("official_name".into(), json!(name));
    }
    data.insert(
        "days_overdue".into(),
        json!((today - row.due_date).num_days()),
    );
    data.insert(
        "assignee_id".into(),
        json!(row.assignee_id.map(|a| a.to_string())),
    );
    new(EventType::FollowUpOverdue, row.id, Value::Object(data))
}

/// `follow_up.raised`: with the official's NIP and name and the findings behind it.
pub fn follow_up_raised(
    row: &FollowUpRow,
    official: Option<(&str, &str)>,
    finding_ids: &[crate::db::DbUuid],
) -> NewEvent {
    let mut data = follow_up_data(row);
    data.insert("source".into(), json!(row.source.as_str()));
    data.insert("reason".into(), json!(row.reason));
    data.insert("raised_by".into(), json!(row.raised_by.to_string()));
    if let Some((nip, name)) = official {
        data.insert("official_nip".into(), json!(nip));
        data.insert("official_name".into(), json!(name));
    }
    data.insert(
        "finding_ids".into(),
        json!(finding_ids
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()),
    );
    new(EventType::FollowUpRaised, row.id, Value::Object(data))
}

/// The event of a reviewer's action, when it has one (`assign`, `decide`, `dismiss`,
/// `reopen`), with who acted and their note.
pub fn follow_up_action(
    action: crate::domain::followup::Action,
    row: &FollowUpRow,
    actor: Uuid,
    note: Option<&str>,
) -> Option<NewEvent> {
    use crate::domain::followup::Action;
    let event_type = match action {
        Action::Assign => EventType::FollowUpAssigned,
        Action::Decide => EventType::FollowUpDecided,
        Action::Dismiss => EventType::FollowUpDismissed,
        Action::Reopen => EventType::FollowUpReopened,
        Action::StartReview | Action::Close | Action::Comment => return None,
    };
    let mut data = follow_up_data(row);
    data.insert("by".into(), json!(actor.to_string()));
    data.insert("note".into(), json!(note));
    match action {
        Action::Assign => {
            data.insert(
                "assignee_id".into(),
                json!(row.assignee_id.map(|a| a.to_string())),
            );
        }
        Action::Decide => {
            data.insert("sanction".into(), json!(row.sanction.map(|s| s.as_str())));
            data.insert(
                "sanction_label".into(),
                json!(row.sanction.map(|s| s.label_id())),
            );
            data.insert("decree_number".into(), json!(row.decree_number));
            data.insert(
                "decree_date".into(),
                json!(row.decree_date.map(|d| d.to_string())),
            );
        }
        _ => {}
    }
    Some(new(event_type, row.id, Value::Object(data)))
}

/// `evidence.added`.
pub fn evidence_added(row: &EvidenceRow) -> NewEvent {
    new(
        EventType::EvidenceAdded,
        row.id,
        json!({
            "evidence_id": row.id.to_string(),
            "inspection_id": row.inspection_id.to_string(),
            "finding_id": row.finding_id.map(|f| f.to_string()),
            "sha256": row.sha256,
            "content_type": row.content_type,
            "size_bytes": row.size_bytes,
            "uploaded_by": row.uploaded_by.to_string(),
        }),
    )
}

/// `official.transferred`: the placement that ended and the one that began.
pub fn official_transferred(
    official: crate::db::DbUuid,
    nip: &str,
    name: &str,
    from: Value,
    to: Value,
) -> NewEvent {
    new(
        EventType::OfficialTransferred,
        official,
        json!({
            "official_id": official.to_string(),
            "official_nip": nip,
            "official_name": name,
            "from": from,
            "to": to,
        }),
    )
}
