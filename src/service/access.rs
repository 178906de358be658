//! Who may see and change a report and its photos — the one home of these rules, used by
//! every path that reads or writes them. A report the caller may not know exists is `404`,
//! one they may see but not change `403`.

use chrono::Duration;

use crate::db::inspections::{self as idb, InspectionRow};
use crate::db::{now, DbConnection, DbUuid};
use crate::domain::inspection::InspectionStatus;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::service::Caller;

/// Who may do what with a report. Viewers are refused before this.
pub fn check_read(caller: &Caller, row: &InspectionRow) -> Result<(), ApiError> {
    let visible = match caller.role {
        Role::Admin | Role::Supervisor => true,
        Role::Inspector => {
            row.status == InspectionStatus::Submitted || row.inspector_id.0 == caller.id
        }
        Role::Viewer => false,
    };
    if visible {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// Changes need the author or an admin, on a draft.
pub fn check_write(caller: &Caller, row: &InspectionRow) -> Result<(), ApiError> {
    check_read(caller, row)?;
    if row.inspector_id.0 != caller.id && caller.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "Only the author or an admin may change this report.".into(),
        ));
    }
    if row.status != InspectionStatus::Draft {
        return Err(ApiError::Conflict(
            "The report is submitted and read-only; a correction is a new finding through a supervisor.".into(),
        ));
    }
    Ok(())
}

pub fn load_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: DbUuid,
) -> Result<InspectionRow, ApiError> {
    let row = idb::find(conn, id)?.ok_or(ApiError::NotFound)?;
    check_read(caller, &row)?;
    Ok(row)
}

/// Only the author (or an admin) adds photos to a report. Checked before the bytes are
/// read; the time window is not, so that a late retry of a photo that did arrive is still
/// answered as a replay.
pub fn check_evidence_author(caller: &Caller, row: &InspectionRow) -> Result<(), ApiError> {
    check_read(caller, row)?;
    if row.inspector_id.0 != caller.id && caller.role != Role::Admin {
        return Err(ApiError::Forbidden(
            "Only the author or an admin may add evidence to this report.".into(),
        ));
    }
    Ok(())
}

/// The author (or an admin) may add photos to a draft, and to a submitted report for
/// `window` after submission.
pub fn check_evidence_allowed(
    caller: &Caller,
    row: &InspectionRow,
    window: std::time::Duration,
) -> Result<(), ApiError> {
    check_evidence_author(caller, row)?;
    if let Some(submitted) = row.submitted_at {
        let window = Duration::from_std(window).unwrap_or(Duration::days(7));
        if now() > submitted + window {
            return Err(ApiError::Conflict(format!(
                "The report was submitted more than {} days ago; no more evidence can be added.",
                window.num_days()
            )));
        }
    }
    Ok(())
}
