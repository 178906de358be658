//! Closed vocabularies: statuses, categories, severities, roles, kinds. Each is declared once
//! with [`vocabulary!`], which makes the enum, its text (the same in JSON, in the database
//! and in messages), `parse`, `ALL` and `Display`. The database columns hold the text; rows
//! hold the enum (`db::types` maps it, and a stored text outside the vocabulary is an error
//! when read, never a silent default).

/// Declares a closed vocabulary (the texts are taken as `tt`, so that the derives see plain
/// string literals: `utoipa` reads `serde(rename)` only from those):
///
/// ```text
/// vocabulary!(
///     /// What the type is.
///     Severity { Low => "low", High => "high" }
/// );
/// ```
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:tt),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value for `text`, ignoring surrounding spaces and letter case.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(text))
            }

            /// The values, as a message lists them: `a, b, c`.
            pub fn listed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use vocabulary;
