//! OPDs: create, update (deactivate instead of delete).

use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::audit;
use crate::db::reference::{self as refdb, OpdFields, OpdRow};
use crate::db::{write_tx, DbConnection, DbUuid};
use crate::domain::reference as rules;
use crate::error::{ApiError, FieldError};
use crate::service::Ctx;

/// Normalises (trims, upper-cases the code, empty address → none) and validates.
pub fn normalize_and_validate(f: &mut OpdFields) -> Vec<FieldError> {
    f.code = rules::normalize_code(&f.code);
    f.name = f.name.trim().to_string();
    f.address = f
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string);
    let mut errors = Vec::new();
    if let Err(e) = rules::validate_code("code", &f.code) {
        errors.push(e);
    }
    if let Err(e) = rules::validate_text("name", &f.name, rules::NAME_MAX) {
        errors.push(e);
    }
    if let Some(a) = &f.address {
        if let Err(e) = rules::validate_text("address", a, rules::ADDRESS_MAX) {
            errors.push(e);
        }
    }
    errors.extend(rules::validate_location(
        f.latitude,
        f.longitude,
        Some(i64::from(f.geofence_radius_m)),
    ));
    errors
}

fn code_taken(
    conn: &mut DbConnection,
    code: &str,
    except: Option<DbUuid>,
) -> Result<bool, ApiError> {
    Ok(refdb::find_opd_by_code(conn, code)?.is_some_and(|o| Some(o.id) != except))
}

fn opd_json(f: &OpdFields) -> Value {
    json!({
        "code": f.code, "name": f.name, "kind": f.kind, "address": f.address,
        "latitude": f.latitude, "longitude": f.longitude,
        "geofence_radius_m": f.geofence_radius_m, "active": f.active,
        "work_week": f.work_week,
    })
}

pub fn create(
    conn: &mut DbConnection,
    mut fields: OpdFields,
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<OpdRow, ApiError> {
    let errors = normalize_and_validate(&mut fields);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    write_tx(conn, |conn| {
        if code_taken(conn, &fields.code, None)? {
            return Err(ApiError::Conflict(format!(
                "An OPD with code `{}` already exists.",
                fields.code
            )));
        }
        let seq = refdb::take_seq(conn)?;
        let row = refdb::insert_opd(conn, DbUuid(Uuid::new_v4()), &fields, seq)?;
        audit::append(
            conn,
            ctx.audit(
                actor,
                "opd.create",
                "opd",
                Some(row.id.to_string()),
                opd_json(&fields),
            ),
        )?;
        Ok(row)
    })
}

/// Applies `change` to the stored fields; nothing is written when nothing changes.
pub fn update(
    conn: &mut DbConnection,
    id: DbUuid,
    mut change: impl FnMut(&mut OpdFields),
    actor: Option<Uuid>,
    ctx: &Ctx,
) -> Result<OpdRow, ApiError> {
    write_tx(conn, |conn| {
        let current = refdb::find_opd(conn, id)?;
        let before = current.fields();
        let mut fields = before.clone();
        change(&mut fields);
        let errors = normalize_and_validate(&mut fields);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        if fields == before {
            return Ok(current);
        }
        if fields.code != before.code && code_taken(conn, &fields.code, Some(id))? {
            return Err(ApiError::Conflict(format!(
                "An OPD with code `{}` already exists.",
                fields.code
            )));
        }
        let seq = refdb::take_seq(conn)?;
        let row = refdb::update_opd(conn, id, &fields, seq)?;
        audit::append(
            conn,
            ctx.audit(
                actor,
                "opd.update",
                "opd",
                Some(id.to_string()),
                json!({ "changes": super::diff(&opd_json(&before), &opd_json(&fields)) }),
            ),
        )?;
        Ok(row)
    })
}
