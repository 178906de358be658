//! Closed vocabularies: statuses, categories, severities, roles, kinds. Each is declared once
//! with [`vocabulary!`], which makes the enum, its text (the same in JSON, in the database
//! and in messages), its labels in Indonesian and English (the console's words, served to
//! the phone app at `GET /api/v1/meta`), `parse`, `ALL` and `Display`. The database columns hold the text; rows
//! hold the enum (`db::types` maps it, and a stored text outside the vocabulary is an error
//! when read, never a silent default).

/// Declares a closed vocabulary (the texts are taken as `tt`, so that the derives see plain
/// string literals: `utoipa` reads `serde(rename)` only from those):
///
/// ```text
/// vocabulary!(
///     /// What the type is.
///     Severity { Low => "low" ["Rendah", "Low"], High => "high" ["Tinggi", "High"] }
/// );
/// ```
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => $text:tt [$id:literal, $en:literal]),+ $(,)?
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

            /// The words people read for the value, in Indonesian and in English.
            pub const fn label(self) -> $crate::domain::vocab::Label {
                match self {
                    $($name::$variant => $crate::domain::vocab::Label { id: $id, en: $en }),+
                }
            }

            /// The Indonesian label (the console's language).
            pub fn label_id(self) -> &'static str {
                self.label().id
            }

            /// The values, as a message lists them: `a, b, c`.
            pub fn listed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl $crate::domain::vocab::Vocabulary for $name {
            fn labels() -> Vec<(&'static str, $crate::domain::vocab::Label)> {
                Self::ALL.iter().map(|v| (v.as_str(), v.label())).collect()
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

/// The words for one value of a vocabulary: Indonesian (`id`, what the console shows) and
/// English (`en`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Label {
    #[schema(example = "Terlambat")]
    pub id: &'static str,
    #[schema(example = "Late")]
    pub en: &'static str,
}

/// A closed vocabulary, as [`vocabulary!`] declares it.
pub trait Vocabulary {
    /// Every value's text with its labels, in declaration order.
    fn labels() -> Vec<(&'static str, Label)>;
}
