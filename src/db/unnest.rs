//! Many rows in one PostgreSQL statement whose text does not depend on how many there are.
//!
//! `INSERT … VALUES (…), (…), …` is a new statement for every number of rows: PostgreSQL
//! parses and plans each one anew, and a batch of reports binds a thousand parameters or
//! more. [`Unnest`] writes `INSERT INTO t (a, b, …) SELECT * FROM unnest($1, $2, …)` instead,
//! with one array per column: the same text for one row or five hundred, so diesel prepares
//! it once per connection and every batch after that only binds and executes.
//!
//! The row types implement it with [`unnest_insert!`], which names the columns once; the
//! compiler checks each field against its column's SQL type ([`super::schema`]).

use diesel::pg::Pg;
use diesel::PgConnection;
use diesel::QueryResult;

/// Rows that PostgreSQL takes as one array per column ([module documentation](self)).
pub trait Unnest: Sized {
    /// Inserts `rows` in one statement; returns how many were inserted.
    fn insert_pg(conn: &mut PgConnection, rows: &[Self]) -> QueryResult<usize>;
}

/// Writes the statement's text: the columns, then one array parameter for each.
pub(crate) fn write_head(
    out: &mut diesel::query_builder::AstPass<'_, '_, Pg>,
    table: &str,
    columns: &[&str],
) {
    out.push_sql("INSERT INTO ");
    out.push_sql(table);
    out.push_sql(" (");
    out.push_sql(&columns.join(", "));
    out.push_sql(") SELECT * FROM unnest(");
}

/// Implements [`Unnest`] for an `Insertable` row type whose fields are named like the
/// columns of `table` (the insert's column list is exactly the listed fields).
macro_rules! unnest_insert {
    ($row:ty, $table:ident, [$first:ident $(, $col:ident)* $(,)?]) => {
        impl $crate::db::unnest::Unnest for $row {
            fn insert_pg(
                conn: &mut diesel::PgConnection,
                rows: &[Self],
            ) -> diesel::QueryResult<usize> {
                use diesel::connection::Connection;
                use diesel::query_builder::{AstPass, QueryFragment, QueryId};
                use diesel::serialize::ToSql;
                use diesel::sql_types::Array;
                use $crate::db::schema::$table as t;

                type Ty<C> = <C as diesel::Expression>::SqlType;

                // One field per column, each the column's values in row order; the type
                // parameters are named after the columns.
                #[allow(non_camel_case_types)]
                struct Columns<$first, $($col),*> {
                    $first: $first,
                    $($col: $col,)*
                }

                #[allow(non_camel_case_types)]
                impl<$first, $($col),*> QueryFragment<diesel::pg::Pg> for Columns<$first, $($col),*>
                where
                    $first: ToSql<Array<Ty<t::$first>>, diesel::pg::Pg>,
                    $($col: ToSql<Array<Ty<t::$col>>, diesel::pg::Pg>,)*
                {
                    fn walk_ast<'b>(
                        &'b self,
                        mut out: AstPass<'_, 'b, diesel::pg::Pg>,
                    ) -> diesel::QueryResult<()> {
                        $crate::db::unnest::write_head(
                            &mut out,
                            stringify!($table),
                            &[stringify!($first) $(, stringify!($col))*],
                        );
                        out.push_bind_param::<Array<Ty<t::$first>>, _>(&self.$first)?;
                        $(
                            out.push_sql(", ");
                            out.push_bind_param::<Array<Ty<t::$col>>, _>(&self.$col)?;
                        )*
                        out.push_sql(")");
                        Ok(())
                    }
                }

                // No static id: diesel keys its prepared statement cache by the SQL text,
                // which is the same for every number of rows.
                #[allow(non_camel_case_types)]
                impl<$first, $($col),*> QueryId for Columns<$first, $($col),*> {
                    type QueryId = ();
                    const HAS_STATIC_QUERY_ID: bool = false;
                }

                // Every field is listed (a field left out would be inserted as its
                // column's default): this pattern does not compile otherwise.
                let _every_field = |r: &Self| {
                    let Self { $first: _, $($col: _,)* } = r;
                };

                let columns = Columns {
                    $first: rows.iter().map(|r| &r.$first).collect::<Vec<_>>(),
                    $($col: rows.iter().map(|r| &r.$col).collect::<Vec<_>>(),)*
                };
                conn.execute_returning_count(&columns)
            }
        }
    };
}
pub(crate) use unnest_insert;
