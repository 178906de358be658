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

/// The closed vocabularies (`domain::vocab`) are stored as their text. Reading a text
/// outside the vocabulary is an error naming the value, never a silent default.
macro_rules! vocabulary_columns {
    ($($ty:ty),+ $(,)?) => {$(
        impl ToSql<Text, Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $ty {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let s = <String as FromSql<Text, Pg>>::from_sql(bytes)?;
                vocabulary_value::<$ty>(&s, <$ty>::parse(&s), stringify!($ty))
            }
        }

        impl ToSql<Text, Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.as_str());
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $ty {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                let s = <String as FromSql<Text, Sqlite>>::from_sql(bytes)?;
                vocabulary_value::<$ty>(&s, <$ty>::parse(&s), stringify!($ty))
            }
        }

        impl ToSql<Text, MultiBackend> for $ty {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Text, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, MultiBackend> for $ty {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<$ty, Text>()
            }
        }
    )+};
}

fn vocabulary_value<T>(stored: &str, parsed: Option<T>, name: &str) -> deserialize::Result<T> {
    let name = name.rsplit("::").next().unwrap_or(name).trim();
    parsed.ok_or_else(|| format!("stored value `{stored}` is not a {name}").into())
}

vocabulary_columns!(
    crate::domain::inspection::AttendanceStatus,
    crate::domain::inspection::FindingCategory,
    crate::domain::inspection::FindingSource,
    crate::domain::inspection::Severity,
    crate::domain::inspection::InspectionStatus,
    crate::domain::reference::OpdKind,
    crate::domain::reference::PositionKind,
    crate::domain::reference::JfGrade,
    crate::domain::reference::ActingKind,
    crate::domain::user::Role,
    crate::domain::nip::EmploymentType,
    crate::domain::followup::FollowUpStatus,
    crate::domain::followup::HistoryAction,
    crate::domain::followup::FollowUpSource,
    crate::domain::discipline::SanctionCode,
    crate::domain::calendar::WorkWeek,
    crate::domain::calendar::HolidayKind,
    crate::domain::events::EventType,
    crate::domain::events::DeliveryStatus,
);

#[cfg(test)]
mod tests {
    use diesel::connection::Connection;
    use diesel::dsl::sql;
    use diesel::sql_types::Text;
    use diesel::sqlite::SqliteConnection;
    use diesel::RunQueryDsl;

    use crate::domain::followup::FollowUpStatus;
    use crate::domain::user::Role;

    #[test]
    fn a_stored_text_outside_the_vocabulary_is_an_error_not_a_default() -> Result<(), String> {
        let mut conn = SqliteConnection::establish(":memory:").map_err(|e| e.to_string())?;
        let role: Role = diesel::select(sql::<Text>("'supervisor'"))
            .get_result(&mut conn)
            .map_err(|e| e.to_string())?;
        assert_eq!(role, Role::Supervisor);
        let status: FollowUpStatus = diesel::select(sql::<Text>("'in_review'"))
            .get_result(&mut conn)
            .map_err(|e| e.to_string())?;
        assert_eq!(status, FollowUpStatus::InReview);
        let err = diesel::select(sql::<Text>("'root'"))
            .get_result::<Role>(&mut conn)
            .err()
            .ok_or("`root` was read as a role")?;
        // diesel names the field in `Display`; the reason is in the error's source.
        assert!(
            format!("{err:?}").contains("`root` is not a Role"),
            "{err:?}"
        );
        Ok(())
    }
}
