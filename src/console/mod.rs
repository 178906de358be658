//! The supervisors' console: server-rendered pages in Bahasa Indonesia under `/app/`.
//!
//! Pages are built with `maud` (markup checked by the compiler, everything escaped unless a
//! page says otherwise) from the same services and loaders as the JSON API: a page calls
//! what the matching API handler calls, with the same caller, so a rule is never written
//! twice. The session is a cookie (`session`); every form carries a CSRF token. The one
//! stylesheet and the one script are compiled into the binary (`static_files`).

pub mod beranda;
pub mod laporan;
pub mod layout;
pub mod pegawai;
pub mod session;
pub mod static_files;
pub mod tindak_lanjut;

use actix_web::http::{header, StatusCode};
use actix_web::web::{self, Data, Query};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use maud::{html, Markup};
use serde::Deserialize;

use crate::error::ApiError;
use crate::service::Ctx;
use crate::state::AppState;
use layout::{notice, page, Shell};
use session::{ConsoleUser, CSRF_FIELD};

/// The `Content-Security-Policy` of every page: only this server's own script, style and
/// images; no inline script; never in a frame.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Whether `path` is one of the console's (the request middleware leaves their HTML error
/// pages alone and adds the page headers).
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path == "/app" || path.starts_with("/app/")
}

/// A page that could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No live session: to the login page, then back to this path.
    Login(String),
    Api(ApiError),
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized(_) => PageError::Login(String::new()),
            other => PageError::Api(other),
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::Login(_) => f.write_str("login required"),
            PageError::Api(e) => e.fmt(f),
        }
    }
}

/// What a person reads for an error, in Indonesian; the API's own words follow where they
/// say which field or which rule.
pub fn explain(e: &ApiError) -> (StatusCode, String, Option<String>) {
    let status = e.status_code();
    let (title, detail) = match e {
        ApiError::Forbidden(d) if d.starts_with("Formulir") => {
            ("Permintaan ditolak".to_string(), Some(d.clone()))
        }
        ApiError::Forbidden(_) => ("Anda tidak berwenang membuka halaman ini.".into(), None),
        ApiError::NotFound => ("Data tidak ditemukan.".into(), None),
        ApiError::Validation(errors) => (
            "Isian belum benar.".into(),
            Some(
                errors
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        ApiError::Conflict(d) => (
            "Tidak dapat dilakukan pada keadaan data sekarang.".into(),
            Some(d.clone()),
        ),
        ApiError::PreconditionFailed(_) => (
            "Data ini telah diubah orang lain sejak halaman dibuka. Periksa keadaan terbarunya di bawah, lalu ulangi bila masih perlu.".into(),
            None,
        ),
        ApiError::TooManyRequests {
            retry_after_secs, ..
        } => (
            format!("Terlalu banyak percobaan. Coba lagi dalam {retry_after_secs} detik."),
            None,
        ),
        ApiError::BadRequest(d) => ("Permintaan tidak valid.".into(), Some(d.clone())),
        ApiError::ServiceUnavailable(_) | ApiError::Contention { .. } => (
            "Server sedang sibuk. Coba lagi sebentar lagi.".into(),
            None,
        ),
        _ => (
            "Terjadi kesalahan pada server. Coba lagi; bila berulang, hubungi admin.".into(),
            None,
        ),
    };
    (status, title, detail)
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login(_) => StatusCode::SEE_OTHER,
            PageError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login(next) => session::see_other(&session::login_location(next)),
            PageError::Api(e) => {
                if matches!(e, ApiError::Internal(_)) {
                    tracing::error!(error = %e, "console page failed");
                }
                let (status, title, detail) = explain(e);
                let body = page(
                    Shell::new("Galat", "", None),
                    html! {
                        h1 { (title) }
                        @if let Some(d) = detail { p { (d) } }
                        p { a href="/app/" { "Kembali ke Beranda" } }
                    },
                );
                let mut resp = html_response(status, body);
                if let ApiError::TooManyRequests {
                    retry_after_secs, ..
                } = e
                {
                    if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                        resp.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                resp
            }
        }
    }
}

pub type PageResult = Result<HttpResponse, PageError>;

/// The console's "not found" page (an unknown `/app/…` address, or an id that is not one).
pub fn not_found_page() -> HttpResponse {
    PageError::Api(ApiError::NotFound).error_response()
}

pub fn html_response(status: StatusCode, body: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.into_string())
}

pub fn ok(body: Markup) -> PageResult {
    Ok(html_response(StatusCode::OK, body))
}

/// A form body: its fields in order (a field may repeat).
pub struct Form(pub Vec<(String, String)>);

/// The largest form the console takes.
const FORM_LIMIT: usize = 64 * 1024;

impl Form {
    pub fn parse(body: &[u8]) -> Result<Form, PageError> {
        if body.len() > FORM_LIMIT {
            return Err(PageError::Api(ApiError::PayloadTooLarge(
                "The form is too large.".into(),
            )));
        }
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
            .map(Form)
            .map_err(|_| PageError::Api(ApiError::BadRequest("The form could not be read.".into())))
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn csrf(&self) -> Option<&str> {
        self.get(CSRF_FIELD)
    }
}

/// Registers the console's routes (one per line: the README lists each, and a test checks).
#[rustfmt::skip]
pub fn register(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_console))
        .route("/app", web::get().to(to_console))
        .route("/app/static/{name}", web::get().to(static_files::serve))
        .route("/app/masuk", web::get().to(login_form))
        .route("/app/masuk", web::post().to(login))
        .route("/app/keluar", web::post().to(logout))
        .route("/app/", web::get().to(beranda::beranda))
        .route("/app/layar", web::get().to(beranda::layar))
        .route("/app/tindak-lanjut", web::get().to(tindak_lanjut::queue))
        .route("/app/tindak-lanjut/{id}", web::get().to(tindak_lanjut::detail))
        .route("/app/tindak-lanjut/{id}", web::post().to(tindak_lanjut::act))
        .route("/app/laporan", web::get().to(laporan::list))
        .route("/app/laporan/{id}", web::get().to(laporan::detail))
        .route("/app/foto/{id}", web::get().to(laporan::foto))
        .route("/app/pegawai/{id}", web::get().to(pegawai::detail));
}

async fn to_console() -> HttpResponse {
    session::see_other("/app/")
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    lanjut: Option<String>,
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    next: &str,
    username: &str,
    error: Option<String>,
    status: StatusCode,
) -> HttpResponse {
    let (token, set) = session::login_csrf(req, state);
    let body = page(
        Shell::new("Masuk", "", None),
        html! {
            div.login.card {
                h1 { "Masuk ke Sidak" }
                p.muted { "Konsol pengawas inspeksi mendadak. Gunakan akun yang sama dengan aplikasi." }
                @if let Some(e) = &error { (notice("error", e)) }
                form method="post" action="/app/masuk" {
                    input type="hidden" name=(CSRF_FIELD) value=(token);
                    input type="hidden" name="lanjut" value=(next);
                    label { "Nama pengguna"
                        input name="username" autocomplete="username" required value=(username) autofocus;
                    }
                    label { "Kata sandi"
                        input name="password" type="password" autocomplete="current-password" required;
                    }
                    button type="submit" { "Masuk" }
                }
            }
        },
    );
    let mut resp = html_response(status, body);
    if let Some(c) = set {
        if let Ok(v) = header::HeaderValue::from_str(&c.to_string()) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

async fn login_form(
    req: HttpRequest,
    state: Data<AppState>,
    query: Query<LoginQuery>,
) -> PageResult {
    if session::current(&req, &state).await?.is_some() {
        return Ok(session::see_other(&session::safe_next(
            query.lanjut.as_deref(),
        )));
    }
    let next = session::safe_next(query.lanjut.as_deref());
    Ok(login_page(&req, &state, &next, "", None, StatusCode::OK))
}

async fn login(req: HttpRequest, state: Data<AppState>, ctx: Ctx, body: web::Bytes) -> PageResult {
    let form = Form::parse(&body)?;
    session::check_login_csrf(&req, form.csrf())?;
    let next = session::safe_next(form.get("lanjut"));
    let username = form.get("username").unwrap_or_default().to_string();
    let password = form
        .0
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    match crate::http::auth::authenticate(&req, &state, ctx, username.clone(), password).await {
        Ok((user, token)) => {
            let cookie =
                session::session_cookie(&req, &state, user.id.0, user.role, token.session.0)?;
            let mut resp = session::see_other(&next);
            resp.add_cookie(&cookie)
                .map_err(|e| ApiError::internal(format!("cookie: {e}")))?;
            resp.add_cookie(&session::removal(&req, &state, session::LOGIN_CSRF_COOKIE))
                .map_err(|e| ApiError::internal(format!("cookie: {e}")))?;
            Ok(resp)
        }
        Err(ApiError::Unauthorized(_)) => Ok(login_page(
            &req,
            &state,
            &next,
            &username,
            Some("Nama pengguna atau kata sandi salah.".into()),
            StatusCode::UNAUTHORIZED,
        )),
        Err(e @ ApiError::TooManyRequests { .. }) => {
            let (status, title, _) = explain(&e);
            let mut resp = login_page(&req, &state, &next, &username, Some(title), status);
            if let ApiError::TooManyRequests {
                retry_after_secs, ..
            } = e
            {
                if let Ok(v) = header::HeaderValue::from_str(&retry_after_secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(
    req: HttpRequest,
    state: Data<AppState>,
    ctx: Ctx,
    user: ConsoleUser,
    body: web::Bytes,
) -> PageResult {
    let form = Form::parse(&body)?;
    user.check_csrf(form.csrf())?;
    let (id, session) = (user.caller.id, crate::db::DbUuid(user.session));
    crate::http::run(&state.pool, move |conn| {
        crate::service::auth::end_session(conn, id, session, &ctx)
    })
    .await?;
    let mut resp = session::see_other("/app/masuk");
    resp.add_cookie(&session::removal(&req, &state, session::COOKIE))
        .map_err(|e| ApiError::internal(format!("cookie: {e}")))?;
    Ok(resp)
}
