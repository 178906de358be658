//! Portable column types. UUIDs are stored as lowercase hyphenated `TEXT` on both backends.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use std::io::Write;
use uuid::Uuid;

use super::MultiBackend;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct DbUuid(pub Uuid);

impl From<Uuid> for DbUuid {
    fn from(u: Uuid) -> Self {
        DbUuid(u)
    }
}

impl From<DbUuid> for Uuid {
    fn from(u: DbUuid) -> Self {
        u.0
    }
}

impl std::fmt::Display for DbUuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

fn parse(s: &str) -> deserialize::Result<DbUuid> {
    Uuid::parse_str(s)
        .map(DbUuid)
        .map_err(|e| format!("stored id is not a UUID: {e}").into())
}

impl ToSql<Text, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        let mut buf = Uuid::encode_buffer();
        out.write_all(self.0.hyphenated().encode_lower(&mut buf).as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Pg> for DbUuid {
    fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
        parse(&s)
    }
}

impl ToSql<Text, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<Text, Sqlite> for DbUuid {
    fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        let s = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
        parse(&s)
    }
}

impl ToSql<Text, MultiBackend> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

impl FromSql<Text, MultiBackend> for DbUuid {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<DbUuid, Text>()
    }
}
