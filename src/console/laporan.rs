//! Laporan: the reports list and one report, read through the loaders of
//! `GET /api/v1/inspections` and `GET /api/v1/inspections/{id}` (an inspector sees their
//! own reports only), and the photos, served through the same code as
//! `GET /api/v1/evidence/{id}/content`.

use std::collections::HashMap;

use actix_web::web::{Data, Path, Query};
use actix_web::HttpRequest;
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{self, badge, page, Shell};
use super::session::{self, ConsoleUser};
use super::{ok, PageResult};
use crate::db::{self, DbUuid};
use crate::domain::inspection::InspectionStatus;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::http::inspections::{self as api, EvidenceOut, Inspection, InspectionListQuery};
use crate::service::Ctx;
use crate::state::AppState;

const READERS: [Role; 3] = [Role::Inspector, Role::Supervisor, Role::Admin];
const PAGE_SIZE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    opd: Option<String>,
    inspektur: Option<String>,
    dari: Option<String>,
    sampai: Option<String>,
    status: Option<String>,
    halaman: Option<String>,
}

fn filled(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn uuid_of(field: &str, v: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    v.map(|v| Uuid::parse_str(v).map_err(|_| ApiError::invalid(field, "tidak dikenal")))
        .transpose()
}

fn day_of(field: &str, v: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    v.map(|v| {
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map_err(|_| ApiError::invalid(field, "harus berupa tanggal (TTTT-BB-HH)"))
    })
    .transpose()
}

/// Distance and geofence, as a reader wants them.
fn place(distance: Option<f64>, within: Option<bool>) -> Markup {
    html! {
        @match distance {
            Some(d) if d >= 1000.0 => { (format!("{:.1} km", d / 1000.0).replace('.', ",")) }
            Some(d) => { (format!("{d:.0} m")) }
            None => { "–" }
        }
        @match within {
            Some(true) => { " " (badge("di dalam geofence", "ok")) }
            Some(false) => { " " (badge("di luar geofence", "high")) }
            None => {}
        }
    }
}

pub async fn list(
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    query: Query<ListQuery>,
) -> PageResult {
    user.require(&READERS)?;
    let q = query.into_inner();
    let opd = uuid_of("opd", filled(&q.opd))?;
    // An inspector's list is their own reports.
    let inspector = if user.role() == Role::Inspector {
        Some(user.caller.id)
    } else {
        uuid_of("inspektur", filled(&q.inspektur))?
    };
    let from = day_of("dari", filled(&q.dari))?;
    let to = day_of("sampai", filled(&q.sampai))?;
    let status = filled(&q.status)
        .map(|s| {
            InspectionStatus::parse(s).ok_or_else(|| ApiError::invalid("status", "tidak dikenal"))
        })
        .transpose()?;
    let cursor = filled(&q.halaman).map(str::to_string);
    let page_rows = api::list_page(
        &state,
        &user.caller,
        InspectionListQuery {
            opd_id: opd,
            status,
            inspector_id: inspector,
            from,
            to,
            limit: Some(PAGE_SIZE),
            cursor: cursor.clone(),
        },
    )
    .await?;
    let reviews = user.reviews();
    let (opds, inspectors) = crate::http::run(&state.pool, move |conn| {
        let mut opds = db::reference::all_opds(conn)?;
        opds.sort_by(|a, b| a.name.cmp(&b.name));
        let inspectors = if reviews {
            db::users::list(
                conn,
                &db::users::ListFilter {
                    role: Some(Role::Inspector),
                    active: None,
                    after_key: None,
                    limit: 500,
                },
            )?
        } else {
            Vec::new()
        };
        Ok((opds, inspectors))
    })
    .await?;
    let tz = ctx.tz();
    let keep = |extra: &str| {
        let mut parts: Vec<String> = Vec::new();
        for (k, v) in [
            ("opd", &q.opd),
            ("inspektur", &q.inspektur),
            ("dari", &q.dari),
            ("sampai", &q.sampai),
            ("status", &q.status),
        ] {
            if let Some(v) = filled(v) {
                parts.push(format!("{k}={}", session::urlencode(v)));
            }
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        format!("/app/laporan?{}", parts.join("&"))
    };
    let body = html! {
        h1 { @if reviews { "Laporan" } @else { "Laporan saya" } }
        form.filters method="get" action="/app/laporan" {
            label { "OPD"
                select name="opd" {
                    option value="" { "Semua OPD" }
                    @for o in &opds { option value=(o.id) selected[opd == Some(o.id.0)] { (o.name) } }
                }
            }
            @if reviews {
                label { "Inspektur"
                    select name="inspektur" {
                        option value="" { "Semua" }
                        @for u in &inspectors { option value=(u.id) selected[inspector == Some(u.id.0)] { (u.full_name) } }
                    }
                }
            }
            label { "Dari" input type="date" name="dari" value=[from]; }
            label { "Sampai" input type="date" name="sampai" value=[to]; }
            label { "Status"
                select name="status" {
                    option value="" { "Semua" }
                    @for s in InspectionStatus::ALL { option value=(s.as_str()) selected[status == Some(*s)] { (s.label_id()) } }
                }
            }
            button type="submit" { "Saring" }
        }
        div.table-wrap { table {
            caption { "Laporan sidak, terbaru lebih dulu" }
            thead { tr {
                th scope="col" { "Waktu" }
                th scope="col" { "OPD" }
                th scope="col" { "Inspektur" }
                th scope="col" { "Status" }
                th.num scope="col" { "Daftar hadir" }
                th.num scope="col" { "Temuan" }
                th scope="col" { "Jarak ke kantor" }
            } }
            tbody {
                @for r in &page_rows.items {
                    tr {
                        td { a href=(format!("/app/laporan/{}", r.head.id)) { (layout::time(r.head.started_at, tz)) } }
                        td { (r.head.opd_name) }
                        td { (r.head.inspector.full_name) }
                        td { (badge(r.head.status.label_id(), r.head.status.as_str())) }
                        td.num { (r.attendance_count) }
                        td.num { (r.findings_count) }
                        td { (place(r.head.distance_m, r.head.within_geofence)) }
                    }
                }
                @if page_rows.items.is_empty() { tr { td colspan="7" { "Tidak ada laporan yang cocok." } } }
            }
        } }
        (layout::pager(keep, cursor.is_none(), page_rows.next_cursor.as_deref()))
    };
    ok(page(
        Shell::new("Laporan", "/app/laporan", Some(&user)),
        body,
    ))
}

/// Photos, as thumbnails that open the full picture.
pub fn photos(items: &[&EvidenceOut], tz: chrono_tz::Tz) -> Markup {
    html! {
        @if !items.is_empty() {
            div.photos {
                @for e in items {
                    a href=(format!("/app/foto/{}", e.id)) {
                        img src=(format!("/app/foto/{}", e.id)) loading="lazy"
                            alt={ "Foto bukti" @if let Some(t) = e.captured_at { ", diambil " (layout::time(t, tz)) } };
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
) -> PageResult {
    user.require(&READERS)?;
    let tz = ctx.tz();
    let report =
        Inspection::from(api::full(&state, user.caller.clone(), DbUuid(id.into_inner())).await?);
    let ids: Vec<DbUuid> = report
        .attendance
        .iter()
        .map(|a| DbUuid(a.official_id))
        .chain(
            report
                .findings
                .iter()
                .filter_map(|f| f.official_id.map(DbUuid)),
        )
        .collect();
    let people: HashMap<Uuid, (String, String)> = crate::http::run(&state.pool, move |conn| {
        Ok(db::reference::find_officials_by_ids(conn, &ids)?
            .into_iter()
            .map(|o| (o.official.id.0, (o.official.full_name, o.official.nip)))
            .collect())
    })
    .await?;
    let who = |id: Uuid| -> Markup {
        match people.get(&id) {
            Some((name, nip)) => {
                html! { a href=(format!("/app/pegawai/{id}")) { (name) } br; span.muted { "NIP " (nip) } }
            }
            None => html! { "–" },
        }
    };
    let h = &report.head;
    let general: Vec<&EvidenceOut> = report
        .evidence
        .iter()
        .filter(|e| e.finding_id.is_none())
        .collect();
    let body = html! {
        p { a href="/app/laporan" { "« Laporan" } }
        h1 { "Laporan sidak " (h.opd_name) }
        section.card aria-labelledby="ringkas" {
            h2 id="ringkas" { "Kunjungan" }
            dl.facts {
                dt { "OPD" } dd { (h.opd_name) " (" (h.opd_code) ")" }
                dt { "Inspektur" } dd { (h.inspector.full_name) }
                dt { "Mulai" } dd { (layout::time(h.started_at, tz)) }
                dt { "Selesai" } dd { @match h.ended_at { Some(t) => (layout::time(t, tz)), None => "–" } }
                dt { "Status" } dd { (badge(h.status.label_id(), h.status.as_str())) @if let Some(t) = h.submitted_at { " " (layout::time(t, tz)) } }
                dt { "Lokasi inspektur" } dd {
                    @match &h.location {
                        Some(l) => { (format!("{:.5}, {:.5}", l.latitude, l.longitude)) @if let Some(a) = l.accuracy_m { " (±" (format!("{a:.0}")) " m)" } }
                        None => { "tidak tercatat" }
                    }
                }
                dt { "Jarak ke kantor" } dd { (place(h.distance_m, h.within_geofence)) }
                @if let Some(n) = &h.notes { dt { "Catatan" } dd { (n) } }
            }
            (photos(&general, tz))
        }
        section.card aria-labelledby="hadir" {
            h2 id="hadir" { "Daftar hadir (" (report.attendance.len()) ")" }
            div.table-wrap { table {
                (layout::head(&["Pegawai", "Jabatan saat itu", "Keterangan", "Catatan"]))
                tbody {
                    @for a in &report.attendance {
                        tr {
                            td { (who(a.official_id)) }
                            td { (a.position_title) br; span.muted { (a.position_kind.label_id()) } }
                            td { (badge(a.status.label_id(), a.status.as_str()))
                                 @if let Some(m) = a.minutes_late { " " (m) " menit" }
                                 @if let Some(m) = a.minutes_early { " " (m) " menit" } }
                            td { (a.note.as_deref().unwrap_or("")) }
                        }
                    }
                }
            } }
        }
        section.card aria-labelledby="temuan" {
            h2 id="temuan" { "Temuan (" (report.findings.len()) ")" }
            @for t in &report.findings {
                article.card {
                    p { (badge(t.severity.label_id(), t.severity.as_str())) " " strong { (t.category.label_id()) } " — " (layout::time(t.observed_at, tz)) }
                    @if let Some(o) = t.official_id { p { (who(o)) @if let Some(p) = &t.official_position_title { br; span.muted { "Jabatan saat itu: " (p) } } } }
                    p { (t.description) }
                    (photos(&report.evidence.iter().filter(|e| e.finding_id == Some(t.id)).collect::<Vec<_>>(), tz))
                }
            }
        }
    };
    ok(page(
        Shell::new("Laporan", "/app/laporan", Some(&user)),
        body,
    ))
}

/// A photo's bytes for the console (its report must be visible to the user).
pub async fn foto(
    req: HttpRequest,
    state: Data<AppState>,
    user: ConsoleUser,
    id: Path<Uuid>,
) -> PageResult {
    Ok(crate::http::evidence::photo(&req, &state, user.caller.clone(), id.into_inner()).await?)
}
