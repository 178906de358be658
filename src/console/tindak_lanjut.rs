//! Tindak lanjut: the follow-up queue and one follow-up with its forms. Both read through
//! the loaders of `GET /api/v1/follow-ups` and `GET /api/v1/follow-ups/{id}`, and every form
//! goes through the same action as `POST /api/v1/follow-ups/{id}/actions`, with the version
//! the page was built from as `If-Match`: a decision someone else made meanwhile is shown
//! as a conflict, never overwritten.

use std::collections::HashMap;

use actix_web::web::{self, Data, Path, Query};
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{self, badge, csrf, notice, page, Shell};
use super::session::{self, ConsoleUser};
use super::{explain, html_response, ok, Form, PageError, PageResult};
use crate::db::{self, DbUuid};
use crate::domain::discipline::{SanctionCode, SANCTIONS};
use crate::domain::followup::{transition, Action, FollowUpStatus};
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::http::followups::{self as api, FollowUp, FollowUpListQuery};
use crate::service::followups::ActionInput;
use crate::service::Ctx;
use crate::state::AppState;

const REVIEWERS: [Role; 2] = [Role::Supervisor, Role::Admin];

/// Rows of the queue per page.
const PAGE_SIZE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    opd: Option<String>,
    /// `1`: only those past due.
    terlambat: Option<String>,
    /// `1`: only those assigned to me.
    saya: Option<String>,
    halaman: Option<String>,
}

fn checked(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v == "1" || v == "on")
}

fn opt_uuid(field: &str, v: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Uuid::parse_str(v)
            .map(Some)
            .map_err(|_| ApiError::invalid(field, "tidak dikenal")),
    }
}

/// Names of users by id (for the history and the assignee), in one query.
fn user_names(
    conn: &mut db::DbConnection,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, ApiError> {
    let mut ids: Vec<DbUuid> = ids.into_iter().map(DbUuid).collect();
    ids.sort_unstable_by_key(|i| i.0);
    ids.dedup();
    Ok(db::users::names_of(conn, &ids)?
        .into_iter()
        .map(|(id, name)| (id.0, name))
        .collect())
}

fn status_badge(s: FollowUpStatus) -> Markup {
    badge(s.label_id(), s.as_str())
}

pub async fn queue(
    state: Data<AppState>,
    user: ConsoleUser,
    query: Query<QueueQuery>,
) -> PageResult {
    user.require(&REVIEWERS)?;
    let q = query.into_inner();
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            FollowUpStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "tidak dikenal"))?,
        ),
    };
    let opd = opt_uuid("opd", q.opd.as_deref())?;
    let overdue = checked(&q.terlambat);
    let mine = checked(&q.saya);
    let cursor = q.halaman.clone().filter(|c| !c.is_empty());
    let api_query = FollowUpListQuery {
        status,
        opd_id: opd,
        official_id: None,
        assignee_id: mine.then_some(user.caller.id),
        overdue: Some(overdue),
        limit: Some(PAGE_SIZE),
        cursor: cursor.clone(),
    };
    let filter = api::list_filter(&state, &user.caller, &api_query)?;
    let (counts, opds) = crate::http::run(&state.pool, move |conn| {
        let counts = db::followups::count_by_status(conn, &filter)?;
        let mut opds = db::reference::all_opds(conn)?;
        opds.retain(|o| o.active);
        opds.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((counts, opds))
    })
    .await?;
    let page_rows = api::list_page(&state, &user.caller, api_query).await?;
    let opd_names: HashMap<Uuid, &str> = opds.iter().map(|o| (o.id.0, o.name.as_str())).collect();
    let keep = |extra: &str| {
        let mut parts = Vec::new();
        if let Some(s) = status {
            parts.push(format!("status={}", s.as_str()));
        }
        if let Some(o) = opd {
            parts.push(format!("opd={o}"));
        }
        if overdue {
            parts.push("terlambat=1".into());
        }
        if mine {
            parts.push("saya=1".into());
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        format!("/app/tindak-lanjut?{}", parts.join("&"))
    };
    let body = html! {
        h1 { "Tindak lanjut" }
        form.filters method="get" action="/app/tindak-lanjut" {
            label { "Status"
                select name="status" {
                    option value="" { "Semua" }
                    @for s in FollowUpStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(*s)] { (s.label_id()) }
                    }
                }
            }
            label { "OPD"
                select name="opd" {
                    option value="" { "Semua OPD" }
                    @for o in &opds {
                        option value=(o.id) selected[opd == Some(o.id.0)] { (o.name) }
                    }
                }
            }
            label { input type="checkbox" name="terlambat" value="1" checked[overdue]; " Lewat tenggat" }
            label { input type="checkbox" name="saya" value="1" checked[mine]; " Ditugaskan ke saya" }
            button type="submit" { "Saring" }
        }
        p { "Jumlah menurut status (saringan lain berlaku): "
            @for (i, (s, n)) in counts.iter().enumerate() {
                @if i > 0 { " · " }
                a href=(format!("/app/tindak-lanjut?status={}", s.as_str())) { (s.label_id()) }
                " " strong { (n) }
            }
        }
        div.table-wrap { table {
            caption { "Antrean tindak lanjut, terbaru lebih dulu" }
            (layout::head(&["Pegawai", "OPD", "Status", "Tenggat", "Alasan"]))
            tbody {
                @for f in &page_rows.items {
                    tr {
                        td { a href=(format!("/app/tindak-lanjut/{}", f.id)) { (f.official.full_name) } br; span.muted { "NIP " (f.official.nip) } }
                        td { (opd_names.get(&f.official.current_opd_id).copied().unwrap_or(f.official.current_opd_code.as_str())) }
                        td { (status_badge(f.status)) @if f.overdue { " " (badge("Lewat tenggat", "overdue")) } }
                        td { (layout::date(f.due_date)) }
                        td { (f.reason) }
                    }
                }
                @if page_rows.items.is_empty() {
                    tr { td colspan="5" { "Tidak ada tindak lanjut yang cocok." } }
                }
            }
        } }
        (layout::pager(keep, cursor.is_none(), page_rows.next_cursor.as_deref()))
    };
    ok(page(
        Shell::new("Tindak lanjut", "/app/tindak-lanjut", Some(&user)),
        body,
    ))
}

/// What the detail page shows besides the follow-up.
struct Extra {
    names: HashMap<Uuid, String>,
    /// The photos of the follow-up's findings, by finding.
    photos: HashMap<Uuid, Vec<crate::http::inspections::EvidenceOut>>,
    opd_names: HashMap<Uuid, String>,
    supervisors: Vec<(Uuid, String)>,
}

async fn extra(
    state: &AppState,
    caller: &crate::service::Caller,
    f: &FollowUp,
) -> Result<Extra, ApiError> {
    // The photos, through the report loader (which checks the caller may read the report).
    let mut reports: Vec<Uuid> = f.findings.iter().map(|t| t.inspection_id).collect();
    reports.sort_unstable();
    reports.dedup();
    let wanted: std::collections::HashSet<Uuid> = f.findings.iter().map(|t| t.id).collect();
    let mut photos: HashMap<Uuid, Vec<crate::http::inspections::EvidenceOut>> = HashMap::new();
    for r in reports {
        let report = crate::http::inspections::Inspection::from(
            crate::http::inspections::full(state, caller.clone(), DbUuid(r)).await?,
        );
        for e in report.evidence {
            if let Some(t) = e.finding_id.filter(|t| wanted.contains(t)) {
                photos.entry(t).or_default().push(e);
            }
        }
    }
    let mut ids: Vec<Uuid> = f.history.iter().map(|h| h.actor_id).collect();
    ids.extend(f.history.iter().filter_map(|h| h.assignee_id));
    ids.extend(f.summary.assignee_id);
    ids.extend(f.summary.decided_by);
    crate::http::run(&state.pool, move |conn| {
        let names = user_names(conn, ids)?;
        let opd_names = db::reference::all_opds(conn)?
            .into_iter()
            .map(|o| (o.id.0, o.name))
            .collect();
        let supervisors = db::users::list(
            conn,
            &db::users::ListFilter {
                role: Some(Role::Supervisor),
                active: Some(true),
                after_key: None,
                limit: 500,
            },
        )?
        .into_iter()
        .map(|u| (u.id.0, u.full_name))
        .collect();
        Ok(Extra {
            names,
            photos,
            opd_names,
            supervisors,
        })
    })
    .await
}

fn detail_page(
    user: &ConsoleUser,
    f: &FollowUp,
    x: &Extra,
    tz: chrono_tz::Tz,
    message: Option<Markup>,
) -> Markup {
    let s = &f.summary;
    let r = &f.recommendation;
    let name = |id: Uuid| {
        x.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "(pengguna)".into())
    };
    let opd = |id: Uuid| x.opd_names.get(&id).cloned().unwrap_or_else(|| "–".into());
    let can = |a: Action| {
        transition(s.status, a).is_some()
            && match a {
                Action::Reopen => user.role() == Role::Admin,
                _ => user.reviews(),
            }
    };
    let sanctions: Vec<_> = SANCTIONS
        .iter()
        .filter(|x| x.applies.to(s.official.employment_type))
        .collect();
    let form = |action: Action, confirm: Option<&str>, fields: Markup| {
        html! {
            form.action.card method="post" action=(format!("/app/tindak-lanjut/{}", s.id)) data-confirm=[confirm] {
                (csrf(user))
                input type="hidden" name="action" value=(action.as_str());
                input type="hidden" name="version" value=(s.version);
                h3 { (action.label_id()) }
                (fields)
                button type="submit" { (action.label_id()) }
            }
        }
    };
    let note = |required: bool| {
        html! { label { "Catatan" @if required { " (wajib)" }
            textarea name="note" required[required] maxlength="1000" {}
        } }
    };
    html! {
        p { a href="/app/tindak-lanjut" { "« Antrean" } }
        h1 { "Tindak lanjut: " (s.official.full_name) }
        @if let Some(m) = message { (m) }
        section.card aria-labelledby="pegawai" {
            h2 id="pegawai" { "Pegawai" }
            dl.facts {
                dt { "Nama" } dd { a href=(format!("/app/pegawai/{}", s.official.id)) { (s.official.full_name) } }
                dt { "NIP" } dd { (s.official.nip) }
                dt { "Status kepegawaian" } dd { (s.official.employment_type.label_id()) }
                dt { "OPD sekarang" } dd { (opd(s.official.current_opd_id)) }
                dt { "Status" } dd { (status_badge(s.status)) @if s.overdue { " " (badge("Lewat tenggat", "overdue")) } }
                dt { "Tenggat" } dd { (layout::date(s.due_date)) }
                dt { "Alasan" } dd { (s.reason) }
                dt { "Ditugaskan ke" } dd { @match s.assignee_id { Some(a) => (name(a)), None => "–" } }
                @if let Some(code) = s.sanction {
                    dt { "Keputusan" } dd { (code.label_id()) @if let Some(by) = s.decided_by { " — oleh " (name(by)) } }
                }
                @if let Some(d) = &s.decree {
                    dt { "Surat keputusan" } dd { (d.number) ", " (layout::date(d.date)) }
                }
            }
        }
        section.card aria-labelledby="rekomendasi" {
            h2 id="rekomendasi" { "Rekomendasi PP 94/2021 (tahun " (r.year) ")" }
            dl.facts {
                dt { "Hari tanpa keterangan" } dd { (r.unexcused_absence_days) " hari kerja" }
                dt { "Terlambat / pulang cepat" } dd { (r.late_minutes) " menit = " (r.late_days) " hari" }
                dt { "Jumlah" } dd { strong { (r.total_days) " hari" } }
                dt { "Berturut-turut terpanjang" } dd { (r.longest_consecutive_absence_working_days) " hari kerja" }
                dt { "Tingkat" } dd { (badge(r.level.label_id(), r.level.as_str())) }
                dt { "Hukuman yang direkomendasikan" } dd { (r.sanction.label_id()) }
                dt { "Dasar hukum" } dd { (r.legal_basis) }
                @if let Some(c) = &r.competent_official {
                    dt { "Pejabat yang berwenang" } dd { (c.authority.label_id()) }
                }
                @if let Some(d) = r.salary_stops_from {
                    dt { "Gaji dihentikan mulai" } dd { (layout::date(d)) }
                }
                @if !r.conflicting_days.is_empty() {
                    dt { "Hari yang perlu diperiksa" } dd { @for (i, d) in r.conflicting_days.iter().enumerate() { @if i > 0 { ", " } (layout::date(*d)) } }
                }
            }
            p.muted { "Sistem merekomendasikan; keputusan tetap di tangan pejabat yang berwenang." }
        }
        section.card aria-labelledby="temuan" {
            h2 id="temuan" { "Temuan (" (f.findings.len()) ")" }
            div.table-wrap { table {
                (layout::head(&["Waktu", "Kategori", "Tingkat", "Jabatan saat itu", "OPD saat itu", "Uraian"]))
                tbody {
                    @for t in &f.findings {
                        tr {
                            td { a href=(format!("/app/laporan/{}", t.inspection_id)) { (layout::time(t.observed_at, tz)) } }
                            td { (t.category.label_id()) @if t.excused.is_some() { " " (badge("Dimaafkan", "ok")) } }
                            td { (badge(t.severity.label_id(), t.severity.as_str())) }
                            td { (t.official_position_title.as_deref().unwrap_or("–"))
                                 @if let Some(k) = t.official_position_kind { br; span.muted { (k.label_id()) } }
                                 @if let Some(a) = &t.official_acting { br; span.muted { (a.kind.label_id()) } } }
                            td { @match t.official_opd_id { Some(o) => (opd(o)), None => "–" } }
                            td { (t.description)
                                 (super::laporan::photos(&x.photos.get(&t.id).map(|v| v.iter().collect::<Vec<_>>()).unwrap_or_default(), tz)) }
                        }
                    }
                }
            } }
        }
        section.card aria-labelledby="riwayat" {
            h2 id="riwayat" { "Riwayat" }
            ol.timeline {
                @for h in &f.history {
                    li {
                        strong { (h.action.label_id()) } " — " (name(h.actor_id)) ", " (layout::time(h.at, tz))
                        @if let Some(code) = h.sanction { br; "Hukuman: " (code.label_id()) }
                        @if let Some(a) = h.assignee_id { br; "Ditugaskan ke " (name(a)) }
                        @if let Some(d) = h.due_date { br; "Tenggat " (layout::date(d)) }
                        @if let Some(n) = &h.note { br; span { "“" (n) "”" } }
                    }
                }
            }
        }
        @if user.reviews() || can(Action::Reopen) {
            section aria-labelledby="tindakan" {
                h2 id="tindakan" { "Tindakan" }
                div.actions {
                    @if can(Action::Assign) {
                        (form(Action::Assign, None, html! {
                            label { "Supervisor"
                                select name="assignee_id" required {
                                    @for (id, n) in &x.supervisors {
                                        option value=(id) selected[s.assignee_id == Some(*id)] { (n) }
                                    }
                                }
                            }
                            label { "Tenggat baru (boleh kosong)" input type="date" name="due_date"; }
                        }))
                    }
                    @if can(Action::StartReview) {
                        (form(Action::StartReview, None, note(false)))
                    }
                    @if can(Action::Decide) {
                        (form(Action::Decide, Some("Putuskan hukuman ini? Keputusan tercatat atas nama Anda."), html! {
                            label { "Hukuman"
                                select name="sanction" required {
                                    @for x in &sanctions {
                                        option value=(x.code.as_str()) selected[x.code == r.sanction] { (x.label) " (" (x.level.label_id()) ")" }
                                    }
                                }
                            }
                            label { "Nomor surat keputusan (wajib untuk hukuman berat)" input name="decree_number" maxlength="200"; }
                            label { "Tanggal surat keputusan" input type="date" name="decree_date"; }
                            (note(true))
                        }))
                    }
                    @if can(Action::Dismiss) {
                        (form(Action::Dismiss, Some("Hentikan tindak lanjut ini?"), note(true)))
                    }
                    @if can(Action::Close) {
                        (form(Action::Close, None, note(false)))
                    }
                    @if can(Action::Reopen) {
                        (form(Action::Reopen, Some("Buka kembali tindak lanjut ini?"), note(true)))
                    }
                    @if transition(s.status, Action::Comment).is_some() {
                        (form(Action::Comment, None, note(true)))
                    }
                }
            }
        }
    }
}

pub async fn detail(
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    id: Path<Uuid>,
    saved: Query<Saved>,
) -> PageResult {
    user.require(&REVIEWERS)?;
    let tz = ctx.tz();
    let f = api::load_full(&state, user.caller.clone(), ctx, DbUuid(id.into_inner())).await?;
    let x = extra(&state, &user.caller, &f).await?;
    let title = format!("Tindak lanjut {}", f.summary.official.full_name);
    ok(page(
        Shell::new(&title, "/app/tindak-lanjut", Some(&user)),
        detail_page(&user, &f, &x, tz, saved.notice()),
    ))
}

fn parse_date(form: &Form, field: &str) -> Result<Option<NaiveDate>, ApiError> {
    match form.get(field) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::invalid(field, "harus berupa tanggal")),
    }
}

fn action_input(form: &Form) -> Result<(ActionInput, Option<i64>), ApiError> {
    let action = form
        .get("action")
        .and_then(Action::parse)
        .ok_or_else(|| ApiError::invalid("action", "tidak dikenal"))?;
    let sanction = match form.get("sanction") {
        None => None,
        Some(s) => Some(
            SanctionCode::parse(s).ok_or_else(|| ApiError::invalid("sanction", "tidak dikenal"))?,
        ),
    };
    let version = match form.get("version") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::invalid("version", "tidak dikenal"))?,
        ),
    };
    let input = ActionInput {
        action,
        note: form.get("note").map(str::to_string),
        sanction,
        assignee_id: opt_uuid("assignee_id", form.get("assignee_id"))?,
        due_date: parse_date(form, "due_date")?,
        decree_number: form.get("decree_number").map(str::to_string),
        decree_date: parse_date(form, "decree_date")?,
    };
    Ok((input, version))
}

/// A form of the detail page. Success goes back to the page (303); a refusal shows the page
/// as it now stands with the reason on top, and changes nothing.
pub async fn act(
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    id: Path<Uuid>,
    body: web::Bytes,
) -> PageResult {
    let form = Form::parse(&body)?;
    user.check_csrf(form.csrf())?;
    let id = DbUuid(id.into_inner());
    let tz = ctx.tz();
    let outcome = match action_input(&form) {
        Ok((input, version)) => {
            api::act_on(&state, user.caller.clone(), ctx.clone(), id, input, version).await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => Ok(session::see_other(&format!(
            "/app/tindak-lanjut/{id}?berhasil=1"
        ))),
        Err(
            e @ (ApiError::Validation(_)
            | ApiError::Conflict(_)
            | ApiError::PreconditionFailed(_)
            | ApiError::Forbidden(_)),
        ) => {
            // The page as it stands now, with what went wrong.
            let f = api::load_full(&state, user.caller.clone(), ctx, id).await?;
            let x = extra(&state, &user.caller, &f).await?;
            let (status, title, detail) = explain(&e);
            let text = match detail {
                Some(d) => format!("{title} {d}"),
                None => title,
            };
            let title = format!("Tindak lanjut {}", f.summary.official.full_name);
            Ok(html_response(
                status,
                page(
                    Shell::new(&title, "/app/tindak-lanjut", Some(&user)),
                    detail_page(&user, &f, &x, tz, Some(notice("error", &text))),
                ),
            ))
        }
        Err(e) => Err(PageError::from(e)),
    }
}

/// `?berhasil=1` after a form: the page says it was saved.
#[derive(Debug, Deserialize)]
pub struct Saved {
    berhasil: Option<String>,
}

impl Saved {
    pub fn notice(&self) -> Option<Markup> {
        checked(&self.berhasil).then(|| notice("ok", "Tersimpan."))
    }
}
