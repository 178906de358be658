//! The HTTP ceiling for `bench/run.py`: the smallest actix-web server that answers JSON, built
//! with the same actix-web, features and release profile as Sidak, so the difference to a
//! Sidak route is what Sidak itself does (auth, database, serialisation of real data).
//!
//!     cargo run --release --example http_ceiling -- 127.0.0.1:18400

use actix_web::{get, App, HttpResponse, HttpServer};

#[get("/ping")]
async fn ping() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18400".to_string());
    HttpServer::new(|| App::new().service(ping))
        .bind(bind)?
        .run()
        .await
}
