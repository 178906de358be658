//! Throughput and latency of `POST /api/v1/inspections` (10 attendance rows, 10 findings)
//! at 1, 4 and 16 connections, against the release binary on SQLite and (when
//! `SIDAK_BENCH_POSTGRES_URL` names a server, e.g. `postgres://postgres@127.0.0.1:5432/postgres`)
//! PostgreSQL; the server's peak memory; and the ceiling: the same rows written in one
//! transaction each, directly through diesel, on one connection.
//!
//!     cargo bench --bench inspections -- [seconds per run, default 10]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};
use sidak::db::inspections::{self as idb, AttendanceRow, FindingRow, InspectionRow};
use sidak::db::{self, ConnectionManager, DatabaseUrl, DbUuid, SqliteSynchronous};

const PASSWORD: &str = "bench-password-123";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(database_url: &str, data_dir: &std::path::Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sidak"))
        .env("DATABASE_URL", database_url)
        .env("SIDAK_DATA_DIR", data_dir)
        .env("SIDAK_BIND", format!("127.0.0.1:{port}"))
        .env("SIDAK_ADMIN_PASSWORD", PASSWORD)
        .env(
            "SIDAK_JWT_SECRET",
            "bench-secret-bench-secret-bench-secret-00",
        )
        .env("RUST_LOG", "error")
        .spawn()
        .expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, base }
}

fn peak_memory_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Value {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.expect("json")
}

struct Setup {
    token: String,
    opd: String,
    officials: Vec<String>,
}

async fn setup(client: &reqwest::Client, base: &str) -> Setup {
    let login = |u: &str, p: &str| json!({"username": u, "password": p});
    let admin = post(
        client,
        &format!("{base}/api/v1/auth/login"),
        None,
        &login("admin", PASSWORD),
    )
    .await;
    let admin = admin["access_token"].as_str().unwrap().to_string();
    let opd = post(
        client,
        &format!("{base}/api/v1/opds"),
        Some(&admin),
        &json!({"code": "BENCH", "name": "Dinas Bench", "kind": "dinas", "latitude": -6.117, "longitude": 106.153}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut officials = Vec::new();
    for i in 0..10 {
        let nip = format!("19{:02}0101201501{}{:03}", 70 + i, 1 + i % 2, i);
        let o = post(
            client,
            &format!("{base}/api/v1/officials"),
            Some(&admin),
            &json!({"nip": nip, "full_name": format!("Pegawai {i}"), "employment_type": "pns", "position_title": "Staf",
                    "position_kind": "pelaksana", "opd_id": opd, "effective_from": "2024-01-02"}),
        )
        .await;
        officials.push(o["id"].as_str().unwrap().to_string());
    }
    post(
        client,
        &format!("{base}/api/v1/users"),
        Some(&admin),
        &json!({"username": "bench.inspector", "full_name": "Bench", "role": "inspector", "password": PASSWORD}),
    )
    .await;
    let token = post(
        client,
        &format!("{base}/api/v1/auth/login"),
        None,
        &login("bench.inspector", PASSWORD),
    )
    .await;
    Setup {
        token: token["access_token"].as_str().unwrap().to_string(),
        opd,
        officials,
    }
}

fn report(s: &Setup) -> Value {
    let statuses = [
        "present",
        "present",
        "present",
        "late",
        "present",
        "absent_unexcused",
        "present",
        "sick",
        "present",
        "leave",
    ];
    let attendance: Vec<Value> = s
        .officials
        .iter()
        .zip(statuses)
        .map(|(o, st)| {
            let mut row = json!({"id": uuid::Uuid::new_v4(), "official_id": o, "status": st});
            if st == "late" {
                row["minutes_late"] = json!(20);
            }
            row
        })
        .collect();
    let findings: Vec<Value> = (0..10)
        .map(|i| {
            json!({"id": uuid::Uuid::new_v4(), "official_id": s.officials[i], "category": "idle", "severity": "medium",
                   "description": "Tidak berada di meja kerja pada jam pelayanan"})
        })
        .collect();
    json!({"id": uuid::Uuid::new_v4(), "opd_id": s.opd, "started_at": (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339(),
           "location": {"latitude": -6.1171, "longitude": 106.1531}, "attendance": attendance, "findings": findings})
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

async fn load(base: &str, s: &Setup, connections: usize, seconds: f64) -> (f64, f64, f64, usize) {
    let url = format!("{base}/api/v1/inspections");
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap();
        let (url, token) = (url.clone(), s.token.clone());
        let setup = Setup {
            token: s.token.clone(),
            opd: s.opd.clone(),
            officials: s.officials.clone(),
        };
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let body = report(&setup);
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await.unwrap();
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    (
        all.len() as f64 / elapsed,
        pct(&all, 50.0),
        pct(&all, 99.0),
        errors,
    )
}

/// The same rows, one transaction per report, straight through diesel on one connection.
fn ceiling(database_url: &str, seconds: f64) -> f64 {
    let manager = ConnectionManager::new(
        DatabaseUrl::parse(database_url).unwrap(),
        SqliteSynchronous::Full,
    );
    let mut conn = manager.establish().unwrap();
    let inspector: DbUuid = {
        use diesel::{ExpressionMethods, QueryDsl};
        use sidak::db::schema::users::dsl::*;
        users
            .filter(username.eq("bench.inspector"))
            .select(id)
            .first(&mut conn)
            .unwrap()
    };
    let opd = sidak::db::reference::find_opd_by_code(&mut conn, "BENCH")
        .unwrap()
        .unwrap();
    let officials: Vec<(DbUuid, sidak::db::reference::AssignmentRow)> = {
        use diesel::QueryDsl;
        use sidak::db::schema::officials::dsl::*;
        let ids: Vec<DbUuid> = officials.select(id).load(&mut conn).unwrap();
        let today = Utc::now().date_naive();
        ids.into_iter()
            .map(|o| (o, idb::assignment_on(&mut conn, o, today).unwrap().unwrap()))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut n = 0u64;
    while Instant::now() < deadline {
        let at = db::now();
        let inspection = DbUuid(uuid::Uuid::new_v4());
        db::write_tx(&mut conn, |c| {
            idb::insert(
                c,
                &InspectionRow {
                    id: inspection,
                    opd_id: opd.id,
                    inspector_id: inspector,
                    status: "draft".into(),
                    started_at: at,
                    ended_at: None,
                    notes: None,
                    latitude: Some(-6.1171),
                    longitude: Some(106.1531),
                    accuracy_m: None,
                    distance_m: Some(14.0),
                    within_geofence: Some(true),
                    request_hash: "x".repeat(64),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                    submitted_at: None,
                },
            )?;
            for (official, asg) in &officials {
                idb::insert_attendance(
                    c,
                    &AttendanceRow {
                        id: DbUuid(uuid::Uuid::new_v4()),
                        inspection_id: inspection,
                        official_id: *official,
                        status: "present".into(),
                        minutes_late: None,
                        note: None,
                        assignment_id: asg.id,
                        opd_id: asg.opd_id,
                        position_title: asg.position_title.clone(),
                        position_kind: asg.position_kind.clone(),
                        created_at: at,
                    },
                )?;
                idb::insert_finding(
                    c,
                    &FindingRow {
                        id: DbUuid(uuid::Uuid::new_v4()),
                        inspection_id: inspection,
                        official_id: Some(*official),
                        category: "idle".into(),
                        severity: "medium".into(),
                        description: "Tidak berada di meja kerja pada jam pelayanan".into(),
                        observed_at: at,
                        source: "report".into(),
                        attendance_id: None,
                        request_hash: "y".repeat(64),
                        assignment_id: Some(asg.id),
                        official_opd_id: Some(asg.opd_id),
                        official_position_title: Some(asg.position_title.clone()),
                        official_position_kind: Some(asg.position_kind.clone()),
                        created_at: at,
                    },
                )?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut targets: Vec<(&str, String, Option<String>)> = Vec::new();
    let dir = std::env::temp_dir().join(format!("sidak-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    targets.push((
        "sqlite",
        format!("sqlite://{}", dir.join("bench.db").display()),
        None,
    ));
    if let Ok(pg) = std::env::var("SIDAK_BENCH_POSTGRES_URL") {
        let name = "sidak_bench";
        let mut admin = diesel::PgConnection::establish(&pg).expect("PostgreSQL for the benchmark");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .unwrap();
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .unwrap();
        let url = match pg.rfind('/') {
            Some(i) => format!("{}/{name}", &pg[..i]),
            None => pg.clone(),
        };
        targets.push(("postgres", url, Some(name.to_string())));
    }
    println!("POST /api/v1/inspections, 10 attendance rows + 10 findings, {seconds} s per run, release build");
    println!("| database | connections | reports/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|");
    let mut summary = Vec::new();
    for (backend, url, _) in &targets {
        let data = dir.join(backend);
        let server = start(url, &data);
        let client = reqwest::Client::new();
        let s = runtime.block_on(setup(&client, &server.base));
        let mut best: f64 = 0.0;
        for connections in [1, 4, 16] {
            let (rate, p50, p99, errors) =
                runtime.block_on(load(&server.base, &s, connections, seconds));
            best = best.max(rate);
            println!("| {backend} | {connections} | {rate:.0} | {p50:.1} | {p99:.1} | {errors} |");
        }
        let memory = peak_memory_mib(server.child.id());
        drop(server);
        let ceiling = ceiling(url, seconds);
        summary.push((backend, best, ceiling, memory));
    }
    println!();
    println!("| database | best API reports/s | diesel ceiling reports/s | API / ceiling | server peak memory |");
    println!("|---|---|---|---|---|");
    for (backend, best, ceiling, memory) in summary {
        println!(
            "| {backend} | {best:.0} | {ceiling:.0} | {:.0}% | {memory:.0} MiB |",
            100.0 * best / ceiling
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
