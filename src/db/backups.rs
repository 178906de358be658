//! The record of backups taken (`service::backup`): one row per backup, by the schedule
//! or by `sidak backup`. A scheduled backup first claims its scheduled time (`slot`, unique):
//! however many servers share the database and wake at that time, one of them claims it and
//! the others see it taken. The last finished rows are what `/metrics` and `/readyz` show,
//! the same on every server.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Serialize;

use super::schema::backup_runs;
use super::DbConnection;

/// One backup, as recorded.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, PartialEq, Eq)]
#[diesel(table_name = backup_runs)]
pub struct BackupRun {
    pub id: i64,
    pub slot: Option<String>,
    pub trigger: String,
    pub holder: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub outcome: String,
    pub location: Option<String>,
    pub files: Option<i64>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
}

/// Records a backup starting now (`now_ms`). With a `slot` (a scheduled time), `None` when
/// that slot was claimed already: another server, or an earlier run, took it.
pub fn start(
    conn: &mut DbConnection,
    slot: Option<&str>,
    trigger: &str,
    holder: &str,
    now_ms: i64,
) -> QueryResult<Option<i64>> {
    // `ON CONFLICT` through the MultiConnection is not supported by diesel's DSL: the same
    // statement, written once, bound per backend.
    let sql = "INSERT INTO backup_runs (slot, trigger, holder, started_at, outcome) \
               VALUES ($1, $2, $3, $4, 'running') ON CONFLICT (slot) DO NOTHING RETURNING id";
    let id: Option<Id> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(sql)
            .bind::<Nullable<Text>, _>(slot)
            .bind::<Text, _>(trigger)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(now_ms)
            .get_result(c)
            .optional()?,
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
            .bind::<Nullable<Text>, _>(slot)
            .bind::<Text, _>(trigger)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(now_ms)
            .get_result(c)
            .optional()?,
    };
    Ok(id.map(|i| i.id))
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// What a finished backup left.
pub struct Finished<'a> {
    pub ok: bool,
    pub location: Option<&'a str>,
    pub files: Option<i64>,
    pub bytes: Option<i64>,
    pub error: Option<&'a str>,
}

pub fn finish(conn: &mut DbConnection, id: i64, now_ms: i64, f: Finished) -> QueryResult<()> {
    diesel::update(backup_runs::table.find(id))
        .set((
            backup_runs::finished_at.eq(Some(now_ms)),
            backup_runs::outcome.eq(if f.ok { "ok" } else { "failed" }),
            backup_runs::location.eq(f.location),
            backup_runs::files.eq(f.files),
            backup_runs::bytes.eq(f.bytes),
            backup_runs::error.eq(f.error),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The last finished backup, and the last one that succeeded.
#[derive(Debug, Clone, Default)]
pub struct LastBackups {
    pub last: Option<BackupRun>,
    pub last_ok: Option<BackupRun>,
}

pub fn last(conn: &mut DbConnection) -> QueryResult<LastBackups> {
    let last = backup_runs::table
        .filter(backup_runs::outcome.ne("running"))
        .order((backup_runs::finished_at.desc(), backup_runs::id.desc()))
        .select(BackupRun::as_select())
        .first(conn)
        .optional()?;
    let last_ok = match &last {
        Some(run) if run.outcome == "ok" => Some(run.clone()),
        _ => backup_runs::table
            .filter(backup_runs::outcome.eq("ok"))
            .order((backup_runs::finished_at.desc(), backup_runs::id.desc()))
            .select(BackupRun::as_select())
            .first(conn)
            .optional()?,
    };
    Ok(LastBackups { last, last_ok })
}
