//! Limits shared by every server on one PostgreSQL database: the login throttle's records
//! (`auth::throttle`) and the API keys' request allowance. Both tables are PostgreSQL's
//! only (migration 15); on SQLite one server owns the database file and keeps them in
//! memory.
//!
//! Neither touches the write lock of `db::tx`: they lock their own rows only, in a fixed
//! order (a login's account record, then its address record), so they can wait neither for
//! a report being written nor for each other in a cycle.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use super::DbConnection;
use crate::auth::throttle::Entry;
use crate::config::ThrottleConfig;

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Integer)]
    failures: i32,
    #[diesel(sql_type = Integer)]
    in_flight: i32,
    #[diesel(sql_type = BigInt)]
    in_flight_until: i64,
    #[diesel(sql_type = Integer)]
    lockouts: i32,
    #[diesel(sql_type = Nullable<BigInt>)]
    locked_until: Option<i64>,
    #[diesel(sql_type = BigInt)]
    last_failure: i64,
    #[diesel(sql_type = BigInt)]
    window_start: i64,
}

impl Row {
    fn entry(&self) -> Entry {
        Entry {
            failures: u32::try_from(self.failures).unwrap_or(0),
            in_flight: u32::try_from(self.in_flight).unwrap_or(0),
            in_flight_until: self.in_flight_until,
            lockouts: u32::try_from(self.lockouts).unwrap_or(0),
            locked_until: self.locked_until,
            last_failure: self.last_failure,
            window_start: self.window_start,
        }
    }
}

#[derive(QueryableByName)]
struct Now {
    #[diesel(sql_type = BigInt)]
    now: i64,
}

/// Milliseconds since 1970 by the database's clock: the one clock every server shares.
const NOW_MS: &str = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now";

fn pg(conn: &mut DbConnection) -> QueryResult<&mut diesel::PgConnection> {
    match conn {
        DbConnection::Pg(c) => Ok(c),
        DbConnection::Sqlite(_) => Err(diesel::result::Error::QueryBuilderError(
            "shared limits live in PostgreSQL only".into(),
        )),
    }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Runs `f` on the records of `account` and `address` (empty ones when there are none),
/// both locked for the transaction, then stores them as `f` left them (or drops a record
/// that holds nothing). Every so often it also drops records that went stale.
pub fn with_login_records<T>(
    conn: &mut DbConnection,
    account: &str,
    address: &str,
    cfg: &ThrottleConfig,
    f: impl FnOnce(i64, &mut Entry, &mut Entry) -> T,
) -> QueryResult<T> {
    let conn = pg(conn)?;
    conn.transaction(|conn| {
        let now = diesel::sql_query(NOW_MS).get_result::<Now>(conn)?.now;
        diesel::sql_query(
            "INSERT INTO login_throttle (kind, key, stale_at) VALUES ('account', $1, $3), ('address', $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind::<Text, _>(account)
        .bind::<Text, _>(address)
        .bind::<BigInt, _>(now)
        .execute(conn)?;
        // `account` sorts before `address`: every transaction locks the two in one order.
        let rows: Vec<Row> = diesel::sql_query(
            "SELECT kind, failures, in_flight, in_flight_until, lockouts, locked_until, last_failure, window_start \
             FROM login_throttle WHERE (kind = 'account' AND key = $1) OR (kind = 'address' AND key = $2) \
             ORDER BY kind FOR UPDATE",
        )
        .bind::<Text, _>(account)
        .bind::<Text, _>(address)
        .load(conn)?;
        let find = |kind: &str| {
            rows.iter()
                .find(|r| r.kind == kind)
                .map(Row::entry)
                .unwrap_or_default()
        };
        let (mut a, mut d) = (find("account"), find("address"));
        let out = f(now, &mut a, &mut d);
        for (kind, key, e) in [("account", account, a), ("address", address, d)] {
            if e.is_empty(now) {
                diesel::sql_query("DELETE FROM login_throttle WHERE kind = $1 AND key = $2")
                    .bind::<Text, _>(kind)
                    .bind::<Text, _>(key)
                    .execute(conn)?;
            } else {
                diesel::sql_query(
                    "UPDATE login_throttle SET failures = $3, in_flight = $4, in_flight_until = $5, lockouts = $6, \
                     locked_until = $7, last_failure = $8, window_start = $9, stale_at = $10 \
                     WHERE kind = $1 AND key = $2",
                )
                .bind::<Text, _>(kind)
                .bind::<Text, _>(key)
                .bind::<Integer, _>(to_i32(e.failures))
                .bind::<Integer, _>(to_i32(e.in_flight))
                .bind::<BigInt, _>(e.in_flight_until)
                .bind::<Integer, _>(to_i32(e.lockouts))
                .bind::<Nullable<BigInt>, _>(e.locked_until)
                .bind::<BigInt, _>(e.last_failure)
                .bind::<BigInt, _>(e.window_start)
                .bind::<BigInt, _>(e.stale_at(cfg))
                .execute(conn)?;
            }
        }
        // A spray of usernames or addresses leaves records behind; one login in 64 sweeps
        // the stale ones (never one this transaction holds: those are locked by it).
        if rand::random::<u8>() < 4 {
            diesel::sql_query(
                "DELETE FROM login_throttle WHERE stale_at < $1 \
                 AND NOT ((kind = 'account' AND key = $2) OR (kind = 'address' AND key = $3))",
            )
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(account)
            .bind::<Text, _>(address)
            .execute(conn)?;
        }
        Ok(out)
    })
}

#[derive(QueryableByName)]
struct Allowance {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    admitted: bool,
    #[diesel(sql_type = Nullable<BigInt>)]
    wait_ms: Option<i64>,
}

/// One request of API key `key` against `per_minute` requests a minute, shared by every
/// server: the generic cell rate algorithm (as the in-process limiter counts), one
/// statement. The key's theoretical arrival time moves on by 60/`per_minute` s per request
/// admitted; a request is admitted while that stays within a minute of now. `Ok(None)`:
/// admitted; `Ok(Some(ms))`: refused, retry after `ms`.
pub fn admit_key_request(
    conn: &mut DbConnection,
    key: &str,
    per_minute: u32,
) -> QueryResult<Option<i64>> {
    let conn = pg(conn)?;
    let interval = 60_000 / i64::from(per_minute.max(1));
    // One statement: the upsert admits the request (its `RETURNING` says so) or leaves the
    // row alone, and then the outer query says how long until the next request would be
    // admitted (from the statement's snapshot, which a row inserted concurrently is not in:
    // admission is read from the upsert alone).
    let row: Allowance = diesel::sql_query(
        "WITH now AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS t), \
         admitted AS ( \
           INSERT INTO api_key_rate AS r (key_id, tat) SELECT $1, now.t + $2 FROM now \
           ON CONFLICT (key_id) DO UPDATE SET tat = greatest(r.tat, (SELECT t FROM now)) + $2 \
           WHERE greatest(r.tat, (SELECT t FROM now)) + $2 - (SELECT t FROM now) <= 60000 \
           RETURNING 1) \
         SELECT EXISTS (SELECT 1 FROM admitted) AS admitted, \
                (SELECT r.tat + $2 - 60000 - now.t FROM api_key_rate r, now WHERE r.key_id = $1) AS wait_ms",
    )
    .bind::<Text, _>(key)
    .bind::<BigInt, _>(interval)
    .get_result(conn)?;
    if row.admitted {
        Ok(None)
    } else {
        // The row may be newer than the statement's snapshot (inserted by a request that
        // committed while this one waited for it): then one interval is a safe answer.
        Ok(Some(row.wait_ms.unwrap_or(interval).max(1)))
    }
}
