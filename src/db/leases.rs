//! Leases: periodic work that must run on one server at a time, however many serve the
//! database (`service::periodic`). A lease names the work, its holder (one server process)
//! and until when it holds; a holder renews it while it works, and when a holder dies its
//! lease runs out and another server takes it. The database's clock decides, so servers
//! with different clocks agree.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::DbConnection;

#[derive(QueryableByName)]
struct Held {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    holder: String,
}

fn now_ms(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
        DbConnection::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
    }
}

/// Takes or renews the lease `name` for `holder` for `ttl_ms`: `true` when `holder` holds it
/// now (it was free, had run out, or was `holder`'s already). One statement, so two servers
/// asking at once cannot both get it.
pub fn acquire(
    conn: &mut DbConnection,
    name: &str,
    holder: &str,
    ttl_ms: i64,
) -> QueryResult<bool> {
    let now = now_ms(conn);
    let sql = format!(
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, {now} + $3) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
         WHERE leases.holder = excluded.holder OR leases.expires_at < {now} \
         RETURNING holder"
    );
    let held: Option<Held> = match conn {
        DbConnection::Pg(c) => diesel::sql_query(sql)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(ttl_ms)
            .get_result(c)
            .optional()?,
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .bind::<BigInt, _>(ttl_ms)
            .get_result(c)
            .optional()?,
    };
    Ok(held.is_some())
}

/// Gives the lease up (when `holder` holds it), so that another server need not wait for it
/// to run out.
pub fn release(conn: &mut DbConnection, name: &str, holder: &str) -> QueryResult<()> {
    let sql = "DELETE FROM leases WHERE name = $1 AND holder = $2";
    match conn {
        DbConnection::Pg(c) => diesel::sql_query(sql)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(sql.replace('$', "?"))
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .execute(c)?,
    };
    Ok(())
}
