//! The page shell (head, navigation, footer) and small pieces every page uses: dates in the
//! city's time zone, labels as badges, numbers, the CSRF field.

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};

use super::session::{ConsoleUser, CSRF_FIELD};
use super::static_files;
use crate::domain::user::Role;

/// One entry of the navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
    roles: &'static [Role],
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/app/",
        label: "Beranda",
        roles: &[Role::Admin, Role::Supervisor, Role::Inspector, Role::Viewer],
    },
    NavItem {
        href: "/app/tindak-lanjut",
        label: "Tindak lanjut",
        roles: &[Role::Admin, Role::Supervisor],
    },
    NavItem {
        href: "/app/laporan",
        label: "Laporan",
        roles: &[Role::Admin, Role::Supervisor, Role::Inspector],
    },
    NavItem {
        href: "/app/layar",
        label: "Layar",
        roles: &[Role::Admin, Role::Supervisor, Role::Viewer],
    },
];

/// What a page hands the shell besides its body.
pub struct Shell<'a> {
    pub title: &'a str,
    /// The navigation entry to mark as current.
    pub section: &'a str,
    pub user: Option<&'a ConsoleUser>,
    /// `body` class (`wall` for the wall screen).
    pub body_class: Option<&'a str>,
    /// Seconds between the page's own refreshes (wall screen).
    pub refresh: Option<u32>,
    pub etag: Option<&'a str>,
}

impl<'a> Shell<'a> {
    pub fn new(title: &'a str, section: &'a str, user: Option<&'a ConsoleUser>) -> Self {
        Shell {
            title,
            section,
            user,
            body_class: None,
            refresh: None,
            etag: None,
        }
    }
}

pub fn page(shell: Shell<'_>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="id" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (shell.title) " · Sidak" }
                link rel="stylesheet" href=(static_files::url("app.css"));
                script src=(static_files::url("app.js")) defer {}
            }
            body class=[shell.body_class] data-refresh=[shell.refresh] data-etag=[shell.etag] {
                a.skip href="#isi" { "Langsung ke isi" }
                @if shell.body_class != Some("wall") {
                    header.top {
                        div.bar {
                            a.brand href="/app/" { "Sidak" }
                            @if let Some(user) = shell.user {
                                nav aria-label="Menu utama" {
                                    ul {
                                        @for item in NAV.iter().filter(|i| i.roles.contains(&user.role())) {
                                            li {
                                                a href=(item.href)
                                                  aria-current=[(item.href == shell.section).then_some("page")] {
                                                    (item.label)
                                                }
                                            }
                                        }
                                    }
                                }
                                div.who {
                                    span { (user.full_name) " (" (user.role().label_id()) ")" }
                                    form method="post" action="/app/keluar" {
                                        (csrf(user))
                                        button.secondary type="submit" { "Keluar" }
                                    }
                                }
                            }
                        }
                    }
                }
                main id="isi" tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf(user: &ConsoleUser) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(user.csrf); }
}

/// A date as people in the city write it: `7 Des 2026`.
pub fn date(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des",
    ];
    use chrono::Datelike;
    format!("{} {} {}", d.day(), MONTHS[d.month0() as usize], d.year())
}

/// A moment in the city's time zone: `7 Des 2026 09.15 WIB`.
pub fn time(t: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    let local = t.with_timezone(&tz);
    let zone = match tz {
        chrono_tz::Asia::Jakarta | chrono_tz::Asia::Pontianak => "WIB".to_string(),
        chrono_tz::Asia::Makassar => "WITA".to_string(),
        chrono_tz::Asia::Jayapura => "WIT".to_string(),
        other => other.name().to_string(),
    };
    format!(
        "{} {} {}",
        date(local.date_naive()),
        local.format("%H.%M"),
        zone
    )
}

/// A share as a percentage with one decimal (`12,5%`), or `–`.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0).replace('.', ","),
        None => "–".into(),
    }
}

/// A label as a badge; `class` carries the code for the colour.
pub fn badge(label: &str, class: &str) -> Markup {
    html! { span class={ "badge " (class) } { (label) } }
}

/// A notice above the page's content.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { div class={ "notice " (kind) } role=(if kind == "error" { "alert" } else { "status" }) { (text) } }
}

/// A table's header row: one column header per label.
pub fn head(columns: &[&str]) -> Markup {
    html! { thead { tr { @for c in columns { th scope="col" { (c) } } } } }
}

/// The links under a paged list: back to the first page (when not on it) and on to the
/// next (`cursor`), each the list's address `at` with its filters and `halaman`.
pub fn pager(at: impl Fn(&str) -> String, on_first: bool, next: Option<&str>) -> Markup {
    html! {
        nav.pager aria-label="Halaman" {
            @if !on_first { a href=(at("")) { "« Halaman pertama" } }
            @if let Some(next) = next {
                a href=(at(&format!("halaman={}", super::session::urlencode(next)))) { "Berikutnya »" }
            }
        }
    }
}
