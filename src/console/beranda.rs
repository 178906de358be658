//! Beranda (the dashboard for a period), the OPD ranking, and the wall screen. Figures come
//! from the dashboard services the JSON API's `/api/v1/dashboard/*` use; nothing here
//! names a person, so every role sees it.

use actix_web::http::header::{self, EntityTag};
use actix_web::http::StatusCode;
use actix_web::web::{Data, Query};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::layout::{self, page, percent, Shell};
use super::session::ConsoleUser;
use super::{html_response, ok, PageResult};
use crate::domain::followup::FollowUpStatus;
use crate::domain::inspection::{FindingCategory, Severity};
use crate::error::ApiError;
use crate::http::conditional::{none_match, not_modified};
use crate::service::dashboards::{self, Interval, Range, Summary};
use crate::service::Ctx;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    /// First day (local), default the first of this month.
    dari: Option<String>,
    /// Last day (local), default today.
    sampai: Option<String>,
}

fn parse_day(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, ApiError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ApiError::invalid(field, "harus berupa tanggal (TTTT-BB-HH)")),
    }
}

/// The period asked for; by default this month up to today (local time).
fn period(q: &PeriodQuery, today: NaiveDate) -> Result<Range, ApiError> {
    let from = parse_day("dari", q.dari.as_deref())?;
    let to = parse_day("sampai", q.sampai.as_deref())?;
    let first = today.with_day(1).unwrap_or(today);
    Range::new(
        Some(from.unwrap_or(first)),
        Some(to.unwrap_or(today)),
        today,
    )
}

/// One OPD's line of the ranking.
pub struct RankRow {
    pub code: String,
    pub name: String,
    pub inspections: i64,
    pub findings: i64,
    pub serious: i64,
    pub absence_rate: Option<f64>,
}

fn num(m: &Map<String, Value>, k: &str) -> i64 {
    m.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// The visited OPDs, worst first: by the share of officials found absent without leave, then
/// by high and critical findings, then by all findings. OPDs not visited in the period are
/// not ranked (they are counted apart).
pub fn ranking(rows: &[Map<String, Value>]) -> Vec<RankRow> {
    let mut out: Vec<RankRow> = rows
        .iter()
        .filter(|r| num(r, "inspections") > 0)
        .map(|r| RankRow {
            code: r.get("code").and_then(Value::as_str).unwrap_or("").into(),
            name: r.get("name").and_then(Value::as_str).unwrap_or("").into(),
            inspections: num(r, "inspections"),
            findings: num(r, "findings"),
            serious: num(r, "findings_high_or_critical"),
            absence_rate: r.get("absence_rate").and_then(Value::as_f64),
        })
        .collect();
    out.sort_by(|a, b| {
        b.absence_rate
            .unwrap_or(0.0)
            .total_cmp(&a.absence_rate.unwrap_or(0.0))
            .then(b.serious.cmp(&a.serious))
            .then(b.findings.cmp(&a.findings))
            .then(a.code.cmp(&b.code))
    });
    out
}

struct Board {
    range: Range,
    summary: Summary,
    ranking: Vec<RankRow>,
    trend: Vec<Map<String, Value>>,
    interval: Interval,
}

async fn board(state: &AppState, range: Range, today: NaiveDate) -> Result<Board, ApiError> {
    let tz = state.config.timezone;
    let days = (range.to - range.from).num_days();
    let interval = if days <= 45 {
        Interval::Day
    } else if days <= 370 {
        Interval::Week
    } else {
        Interval::Month
    };
    let (summary, opds, trend) = crate::http::run(&state.pool, move |conn| {
        let summary = dashboards::summary(conn, range, None, today, tz)?;
        let opds = dashboards::opds(conn, range, None)?;
        let trend = dashboards::trends(conn, range, None, interval)?;
        Ok((summary, opds, trend))
    })
    .await?;
    Ok(Board {
        range,
        summary,
        ranking: ranking(&opds),
        trend,
        interval,
    })
}

fn open_follow_ups(s: &Summary) -> i64 {
    [FollowUpStatus::Open, FollowUpStatus::InReview]
        .iter()
        .map(|st| {
            s.follow_ups_by_status
                .get(st.as_str())
                .copied()
                .unwrap_or(0)
        })
        .sum()
}

fn figure(n: impl std::fmt::Display, label: &str) -> Markup {
    html! { div.figure { span.n { (n) } span.l { (label) } } }
}

fn ranking_table(rows: &[RankRow], limit: usize, caption: &str) -> Markup {
    html! {
        div.table-wrap {
            table {
                caption { (caption) }
                thead { tr {
                    th.num scope="col" { "No." }
                    th scope="col" { "OPD" }
                    th.num scope="col" { "Laporan" }
                    th.num scope="col" { "Temuan" }
                    th.num scope="col" { "Temuan berat" }
                    th.num scope="col" { "Tanpa keterangan" }
                } }
                tbody {
                    @for (i, r) in rows.iter().take(limit).enumerate() {
                        tr {
                            td.num { (i + 1) }
                            td { (r.name) " " span.muted { "(" (r.code) ")" } }
                            td.num { (r.inspections) }
                            td.num { (r.findings) }
                            td.num { (r.serious) }
                            td.num { (percent(r.absence_rate)) }
                        }
                    }
                    @if rows.is_empty() {
                        tr { td colspan="6" { "Belum ada OPD yang dikunjungi pada periode ini." } }
                    }
                }
            }
        }
    }
}

/// The trend as bars (reports and findings per day, week or month): plain SVG drawn here,
/// with a table for screen readers and print.
fn trend_chart(trend: &[Map<String, Value>], interval: Interval) -> Markup {
    let n = trend.len().max(1);
    let (w, h, pad) = (720.0_f64, 220.0_f64, 28.0_f64);
    let max = trend
        .iter()
        .map(|r| num(r, "findings").max(num(r, "inspections")))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = (w - pad * 2.0) / n as f64;
    let bar = (slot / 2.0 - 1.0).max(1.0);
    let unit = match interval {
        Interval::Day => "hari",
        Interval::Week => "minggu",
        Interval::Month => "bulan",
    };
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (w) " " (h) } role="img" aria-labelledby="tren-judul" {
                title id="tren-judul" { "Laporan dan temuan per " (unit) }
                line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#8a94a6" {}
                text x="2" y="12" { (max as i64) }
                text x="2" y=(h - pad) { "0" }
                @for (i, r) in trend.iter().enumerate() {
                    @let x = pad + i as f64 * slot;
                    @let hi = (num(r, "inspections") as f64 / max) * (h - pad * 2.0);
                    @let hf = (num(r, "findings") as f64 / max) * (h - pad * 2.0);
                    rect.bar x=(format!("{x:.1}")) y=(format!("{:.1}", h - pad - hi)) width=(format!("{bar:.1}")) height=(format!("{hi:.1}")) {
                        title { (r.get("bucket").and_then(Value::as_str).unwrap_or("")) ": " (num(r, "inspections")) " laporan" }
                    }
                    rect.bar2 x=(format!("{:.1}", x + bar + 1.0)) y=(format!("{:.1}", h - pad - hf)) width=(format!("{bar:.1}")) height=(format!("{hf:.1}")) {
                        title { (r.get("bucket").and_then(Value::as_str).unwrap_or("")) ": " (num(r, "findings")) " temuan" }
                    }
                }
                @if let (Some(first), Some(last)) = (trend.first(), trend.last()) {
                    text x=(pad) y=(h - 8.0) { (first.get("bucket").and_then(Value::as_str).unwrap_or("")) }
                    text x=(w - pad) y=(h - 8.0) text-anchor="end" { (last.get("bucket").and_then(Value::as_str).unwrap_or("")) }
                }
            }
            figcaption.muted { "Batang biru: laporan; batang merah: temuan, per " (unit) "." }
        }
    }
}

fn counts_table<'a>(caption: &str, rows: impl Iterator<Item = (&'a str, i64)>) -> Markup {
    html! {
        div.table-wrap { table {
            caption { (caption) }
            tbody { @for (label, n) in rows { tr { th scope="row" { (label) } td.num { (n) } } } }
        } }
    }
}

pub async fn beranda(
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    query: Query<PeriodQuery>,
) -> PageResult {
    let today = ctx.today();
    let range = period(&query, today)?;
    let b = board(&state, range, today).await?;
    let s = &b.summary;
    let body = html! {
        h1 { "Beranda" }
        form.filters.no-print method="get" action="/app/" {
            label { "Dari" input type="date" name="dari" value=(b.range.from); }
            label { "Sampai" input type="date" name="sampai" value=(b.range.to); }
            button type="submit" { "Tampilkan" }
        }
        p.muted.no-print { "Periode " (layout::date(b.range.from)) " – " (layout::date(b.range.to)) " (waktu setempat)." }
        section.figures.no-print aria-label="Angka utama" {
            (figure(s.inspections, "Laporan sidak"))
            (figure(s.opds_visited, "OPD dikunjungi"))
            (figure(s.findings, "Temuan"))
            (figure(percent(s.absence_rate), "Pegawai tanpa keterangan"))
            (figure(open_follow_ups(s), "Tindak lanjut terbuka"))
            (figure(s.overdue_follow_ups, "Tindak lanjut lewat tenggat"))
        }
        div.actions.no-print {
            (counts_table("Temuan menurut tingkat", Severity::ALL.iter().map(|v| (v.label_id(), s.findings_by_severity.get(v.as_str()).copied().unwrap_or(0)))))
            (counts_table("Temuan menurut kategori", FindingCategory::ALL.iter().map(|v| (v.label_id(), s.findings_by_category.get(v.as_str()).copied().unwrap_or(0)))))
            (counts_table("Tindak lanjut menurut status", FollowUpStatus::ALL.iter().map(|v| (v.label_id(), s.follow_ups_by_status.get(v.as_str()).copied().unwrap_or(0)))))
        }
        section.no-print aria-labelledby="tren" {
            h2 id="tren" { "Tren" }
            (trend_chart(&b.trend, b.interval))
        }
        section aria-labelledby="peringkat" {
            h2 id="peringkat" { "Peringkat OPD" }
            p.print-title { strong { "Peringkat OPD hasil inspeksi mendadak" } br; "Periode " (layout::date(b.range.from)) " – " (layout::date(b.range.to)) }
            p.muted { "Urutan: persentase pegawai tanpa keterangan, lalu temuan berat (tinggi dan kritis), lalu jumlah temuan. "
                (s.opds_never_visited) " OPD aktif belum dikunjungi pada periode ini." }
            (ranking_table(&b.ranking, 40, "OPD yang dikunjungi, terburuk lebih dulu"))
            p.no-print { "Untuk pengumuman apel Senin, cetak halaman ini (Ctrl+P): hanya peringkat yang tercetak, pada satu halaman A4." }
        }
    };
    ok(page(Shell::new("Beranda", "/app/", Some(&user)), body))
}

/// The wall screen: this month's figures and the ranking, large, refreshing itself. It
/// answers `If-None-Match` with `304` while nothing changed.
pub async fn layar(
    req: HttpRequest,
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
) -> PageResult {
    let today = ctx.today();
    let range = period(
        &PeriodQuery {
            dari: None,
            sampai: None,
        },
        today,
    )?;
    let b = board(&state, range, today).await?;
    let s = &b.summary;
    let content = html! {
        h1 { "Hasil sidak " (layout::date(b.range.from)) " – " (layout::date(b.range.to)) }
        section.figures aria-label="Angka utama" {
            (figure(s.inspections, "Laporan sidak"))
            (figure(s.opds_visited, "OPD dikunjungi"))
            (figure(s.findings, "Temuan"))
            (figure(percent(s.absence_rate), "Pegawai tanpa keterangan"))
            (figure(s.overdue_follow_ups, "Tindak lanjut lewat tenggat"))
        }
        (ranking_table(&b.ranking, 10, "Peringkat OPD, terburuk lebih dulu"))
    };
    let digest = Sha256::digest(content.0.as_bytes());
    let tag = EntityTag::new_strong(hex::encode(&digest[..12]));
    if none_match(&req, &tag) {
        return Ok(not_modified(tag));
    }
    let etag = tag.to_string();
    let mut shell = Shell::new("Layar", "/app/layar", Some(&user));
    shell.body_class = Some("wall");
    shell.refresh = Some(state.config.wall_refresh_seconds);
    shell.etag = Some(&etag);
    let mut resp: HttpResponse = html_response(StatusCode::OK, page(shell, content));
    resp.headers_mut().insert(
        header::ETAG,
        header::HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    Ok(resp)
}
