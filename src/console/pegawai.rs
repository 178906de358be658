//! Pegawai: an official's record — placements (mutasi history), acting posts, the year's
//! findings with the post held at the time, follow-ups and the PP 94/2021 recommendation —
//! read through the loaders of `GET /api/v1/officials/{id}` and
//! `GET /api/v1/officials/{id}/record`.

use actix_web::web::{Data, Path, Query};
use chrono::Datelike;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{self, badge, page, Shell};
use super::session::ConsoleUser;
use super::{ok, PageResult};
use crate::db::DbUuid;
use crate::domain::user::Role;
use crate::error::ApiError;
use crate::service::Ctx;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct YearQuery {
    tahun: Option<String>,
}

pub async fn detail(
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    id: Path<Uuid>,
    query: Query<YearQuery>,
) -> PageResult {
    user.require(&[Role::Supervisor, Role::Admin])?;
    let id = id.into_inner();
    let tz = ctx.tz();
    let year = match query
        .tahun
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(v) => Some(
            v.parse::<i32>()
                .map_err(|_| ApiError::invalid("tahun", "harus berupa tahun"))?,
        ),
    };
    let (_, official) = crate::http::officials::load_full(&state, &ctx, DbUuid(id)).await?;
    let record =
        crate::http::followups::load_record(&state, &user.caller, ctx.clone(), id, year).await?;
    let o = &official.official;
    let r = &record.recommendation;
    let this_year = ctx.today().year();
    let body = html! {
        h1 { (o.full_name) }
        section.card aria-labelledby="data" {
            h2 id="data" { "Data pegawai" }
            dl.facts {
                dt { "NIP" } dd { (o.nip) }
                dt { "Status kepegawaian" } dd { (o.employment_type.label_id()) @if let Some(rank) = &o.rank { ", " (rank) } }
                dt { "OPD" } dd { (o.current_assignment.opd_name) }
                dt { "Jabatan" } dd { (o.current_assignment.position_title) " (" (o.current_assignment.position_kind.label_id()) ")" }
                @if !o.active { dt { "Status" } dd { (badge("Tidak aktif", "high")) } }
            }
            @for w in &official.warnings { p.muted { (w) } }
        }
        section.card aria-labelledby="mutasi" {
            h2 id="mutasi" { "Riwayat jabatan (mutasi)" }
            div.table-wrap { table {
                (layout::head(&["Mulai", "Sampai", "OPD", "Jabatan"]))
                tbody {
                    @for a in official.assignments.iter().rev() {
                        tr {
                            td { (layout::date(a.effective_from)) }
                            td { @match a.effective_to { Some(d) => (layout::date(d)), None => "sekarang" } }
                            td { (a.opd_name) }
                            td { (a.position_title) br; span.muted { (a.position_kind.label_id()) @if let Some(g) = a.jf_grade { ", " (g.label_id()) } } }
                        }
                    }
                    @for a in official.acting_assignments.iter().rev() {
                        tr {
                            td { (layout::date(a.effective_from)) }
                            td { @match a.effective_to { Some(d) => (layout::date(d)), None => "sekarang" } }
                            td { (a.opd_name) }
                            td { (a.kind.label_id()) ": " (a.position_title) }
                        }
                    }
                }
            } }
        }
        section.card aria-labelledby="rekomendasi" {
            h2 id="rekomendasi" { "Rekomendasi PP 94/2021, tahun " (record.year) }
            form.filters method="get" {
                label { "Tahun" input type="number" name="tahun" min="1900" max="2100" value=(record.year); }
                button type="submit" { "Tampilkan" }
                @if record.year != this_year { a href=(format!("/app/pegawai/{id}")) { "Tahun ini" } }
            }
            dl.facts {
                dt { "Hari tanpa keterangan" } dd { (r.unexcused_absence_days) " hari kerja" }
                dt { "Terlambat / pulang cepat" } dd { (r.late_minutes) " menit = " (r.late_days) " hari" }
                dt { "Jumlah" } dd { strong { (r.total_days) " hari" } }
                dt { "Tingkat" } dd { (badge(r.level.label_id(), r.level.as_str())) }
                dt { "Hukuman yang direkomendasikan" } dd { (r.sanction.label_id()) }
                dt { "Dasar hukum" } dd { (r.legal_basis) }
            }
        }
        section.card aria-labelledby="temuan" {
            h2 id="temuan" { "Temuan " (record.year) " (" (record.findings.len()) ")" }
            div.table-wrap { table {
                (layout::head(&["Waktu", "Kategori", "Tingkat", "Jabatan saat itu", "Uraian"]))
                tbody {
                    @for t in &record.findings {
                        tr {
                            td { a href=(format!("/app/laporan/{}", t.inspection_id)) { (layout::time(t.observed_at, tz)) } }
                            td { (t.category.label_id()) @if t.excused.is_some() { " " (badge("Dimaafkan", "ok")) } }
                            td { (badge(t.severity.label_id(), t.severity.as_str())) }
                            td { (t.official_position_title.as_deref().unwrap_or("–")) }
                            td { (t.description) }
                        }
                    }
                    @if record.findings.is_empty() { tr { td colspan="5" { "Tidak ada temuan pada tahun ini." } } }
                }
            } }
        }
        section.card aria-labelledby="tl" {
            h2 id="tl" { "Tindak lanjut" }
            ul {
                @for f in &record.follow_ups {
                    li {
                        a href=(format!("/app/tindak-lanjut/{}", f.id)) { (layout::date(f.created_at.with_timezone(&tz).date_naive())) }
                        " " (badge(f.status.label_id(), f.status.as_str()))
                        @if let Some(s) = f.sanction { " — " (s.label_id()) }
                    }
                }
                @if record.follow_ups.is_empty() { li { "Belum pernah." } }
            }
        }
    };
    ok(page(Shell::new(&o.full_name, "", Some(&user)), body))
}
