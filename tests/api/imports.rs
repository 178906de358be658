//! CSV imports: all or nothing, dry runs, transfers, the command line.

use std::time::Instant;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp};

both_backends!(
    opd_import_upserts_by_code,
    official_import_is_all_or_nothing,
    official_import_applies_transfers,
    import_of_one_inauguration,
    cli_import_follows_the_same_rules,
);

const OPDS: &str = "code,name,kind,address,latitude,longitude,geofence_radius_m
SETDA,Sekretariat Daerah,sekretariat,\"Jl. Jenderal Sudirman No. 5, Serang\",-6.1149,106.1503,150
DINKES,Dinas Kesehatan,dinas,,-6.1170,106.1530,
KEC-SERANG,Kecamatan Serang,kecamatan,,,,
";

pub async fn post_csv(app: &TestApp, token: &str, path: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", "text/csv; charset=utf-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn report(resp: reqwest::Response) -> Value {
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn count(app: &TestApp, token: &str, path: &str) -> usize {
    let v: Value = app
        .get(&format!("{path}?limit=200"), Some(token))
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().len()
}

async fn opd_import_upserts_by_code(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let r = report(post_csv(&app, &admin, "/api/v1/opds/import", OPDS).await).await;
    assert_eq!(
        (r["created"].as_u64(), r["applied"].as_bool()),
        (Some(3), Some(true)),
        "{r}"
    );
    let list: Value = app
        .get("/api/v1/opds?q=setda", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["items"][0]["address"],
        "Jl. Jenderal Sudirman No. 5, Serang"
    );
    assert_eq!(list["items"][0]["latitude"], -6.1149);

    let changed = OPDS.replace("Dinas Kesehatan,dinas", "Dinas Kesehatan Kota Serang,dinas");
    let r = report(post_csv(&app, &admin, "/api/v1/opds/import", &changed).await).await;
    assert_eq!(
        (
            r["created"].as_u64(),
            r["updated"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(2))
    );

    let bad = "code,name,kind,latitude,longitude\nA,Satu,dinas,-6.1,106.1\nB,Dua,kabupaten,,\nC,Tiga,dinas,abc,106\nA,Lagi,dinas,,\n";
    let r = report(post_csv(&app, &admin, "/api/v1/opds/import", bad).await).await;
    let lines: Vec<u64> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 5], "{r}");
    assert_eq!(r["applied"], false);
    assert_eq!(count(&app, &admin, "/api/v1/opds").await, 3);

    let unknown_column = "code,name,kind,colour\nA,Satu,dinas,blue\n";
    let r = report(post_csv(&app, &admin, "/api/v1/opds/import", unknown_column).await).await;
    assert_eq!(r["errors"][0]["line"], 1);
    assert!(r["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("colour"));
}

fn officials_csv(rows: &[&str]) -> String {
    let mut s = String::from(
        "nip,full_name,employment_type,position_title,position_kind,rank,opd_code,effective_from\n",
    );
    for r in rows {
        s.push_str(r);
        s.push('\n');
    }
    s
}

async fn official_import_is_all_or_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    report(post_csv(&app, &admin, "/api/v1/opds/import", OPDS).await).await;
    let mixed = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Kepala Dinas,jpt,IV/c,DINKES,2025-03-10",
        "198513152010011003,Tanggal Salah,pns,Staf,pelaksana,,DINKES,",
        "199207082019031006,Budi Santoso,pns,Pranata Komputer,fungsional,III/b,TIDAK-ADA,",
        "199505052023211001,Hendra Gunawan,pppk,Guru,fungsional,IX,SETDA,2023-11-01",
        "198503152010011002,Rina Lagi,pns,Staf,pelaksana,,DINKES,",
        "199001012015031001,Tanggal Depan,pns,Staf,pelaksana,,DINKES,31-01-2024",
        "199001012015031002,Pangkat Salah,pns,Staf,pelaksana,IX,DINKES,",
        "199001012015031003,Kolom Kurang,pns,Staf",
    ]);
    for dry_run in [false, true] {
        let path = if dry_run {
            "/api/v1/officials/import?dry_run=true"
        } else {
            "/api/v1/officials/import"
        };
        let r = report(post_csv(&app, &admin, path, &mixed).await).await;
        assert_eq!(r["applied"], false);
        let errors = r["errors"].as_array().unwrap();
        let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
        assert_eq!(lines, [3, 4, 6, 7, 8, 9], "{r}");
        let message = |line: u64| {
            errors.iter().find(|e| e["line"] == line).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(message(3).contains("birth date"), "{}", message(3));
        assert!(message(4).contains("TIDAK-ADA"), "{}", message(4));
        assert!(message(6).contains("line 2"), "{}", message(6));
        assert!(message(7).contains("effective_from"), "{}", message(7));
        assert!(message(8).contains("rank"), "{}", message(8));
        assert!(message(9).contains("fields"), "{}", message(9));
    }
    assert_eq!(
        count(&app, &admin, "/api/v1/officials").await,
        0,
        "nothing was written"
    );

    // Dry run of a good file: the report, and still nothing written.
    let good = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Kepala Dinas,jpt,IV/c,DINKES,2025-03-10",
        "199505052023211001,Hendra Gunawan,pppk,Guru,fungsional,IX,setda,2023-11-01",
    ]);
    let r =
        report(post_csv(&app, &admin, "/api/v1/officials/import?dry_run=true", &good).await).await;
    assert_eq!(
        (
            r["created"].as_u64(),
            r["dry_run"].as_bool(),
            r["applied"].as_bool()
        ),
        (Some(2), Some(true), Some(false))
    );
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 0);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &good).await).await;
    assert_eq!(
        (r["created"].as_u64(), r["applied"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 2);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &good).await).await;
    assert_eq!(
        (r["created"].as_u64(), r["unchanged"].as_u64()),
        (Some(0), Some(2))
    );

    // Wrong media type, empty file, too large.
    let resp = app
        .client
        .post(app.url("/api/v1/officials/import"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_problem(resp, 415).await;
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", "").await).await;
    assert!(!r["errors"].as_array().unwrap().is_empty());
    let huge = "x".repeat(5 * 1024 * 1024);
    assert_problem(
        post_csv(&app, &admin, "/api/v1/officials/import", &huge).await,
        413,
    )
    .await;
    let not_utf8 = app
        .client
        .post(app.url("/api/v1/officials/import"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(vec![0xffu8, 0xfe, b'\n', 0x80])
        .send()
        .await
        .unwrap();
    let r = report(not_utf8).await;
    assert_eq!(r["applied"], false);
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 2);
}

async fn official_import_applies_transfers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    report(post_csv(&app, &admin, "/api/v1/opds/import", OPDS).await).await;
    let first = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Kepala Seksi,pengawas,III/d,DINKES,2024-01-02",
    ]);
    report(post_csv(&app, &admin, "/api/v1/officials/import", &first).await).await;
    let moved = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Camat,administrator,IV/a,KEC-SERANG,2025-06-02",
    ]);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &moved).await).await;
    assert_eq!(r["updated"], 1, "{r}");
    let list: Value = app
        .get("/api/v1/officials?nip=198503152010011002", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_str().unwrap();
    let official: Value = app
        .get(&format!("/api/v1/officials/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let history = official["assignments"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["opd_code"], "DINKES");
    assert_eq!(history[0]["effective_to"], "2025-06-02");
    assert_eq!(history[1]["opd_code"], "KEC-SERANG");
    assert_eq!(official["rank"], "IV/a");

    // A transfer dated before the current placement is refused, nothing written.
    let back = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Staf,pelaksana,IV/a,DINKES,2025-01-01",
    ]);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &back).await).await;
    assert_eq!(r["errors"][0]["line"], 2);
    // The date of a new placement or a transfer comes from the decree: blank is refused,
    // never today; a line that only renames needs none.
    let blank = officials_csv(&[
        "198503152010011002,Rina Marlina,pns,Sekretaris Camat,administrator,IV/a,KEC-SERANG,",
        "199001012015031009,Pegawai Baru,pns,Staf,pelaksana,,DINKES,",
    ]);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &blank).await).await;
    let errors = r["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{r}");
    for e in errors {
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .starts_with("effective_from: required"),
            "{r}"
        );
    }
    // A NIP as BKN prints it (spaces, dots) or as a spreadsheet quotes it finds the same
    // official: the line updates them, nobody new is created.
    for (k, typed) in [
        "19850315 201001 1 002",
        "19850315.201001.1.002",
        "'198503152010011002",
    ]
    .iter()
    .enumerate()
    {
        let line = format!("{typed},Rina Marlina {k},pns,Camat,administrator,IV/a,KEC-SERANG,");
        let r = report(
            post_csv(
                &app,
                &admin,
                "/api/v1/officials/import",
                &officials_csv(&[&line]),
            )
            .await,
        )
        .await;
        assert_eq!(r["created"], 0, "{typed}: {r}");
        assert_eq!(r["updated"], 1, "{typed}: {r}");
    }
    let list: Value = app
        .get(
            "/api/v1/officials?nip=19850315%20201001%201%20002",
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["items"][0]["nip"], "198503152010011002");
    assert_eq!(list["items"][0]["full_name"], "Rina Marlina 2");
    // The employment type of a known NIP cannot flip.
    let flip =
        officials_csv(&["198503152010011002,Rina Marlina,pppk,Camat,administrator,IX,KEC-SERANG,"]);
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &flip).await).await;
    assert_eq!(r["errors"].as_array().unwrap().len(), 1, "{r}");
    let official: Value = app
        .get(&format!("/api/v1/officials/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(official["assignments"].as_array().unwrap().len(), 2);
}

/// A valid PNS NIP for row `i`.
pub fn nip_for(i: usize) -> String {
    let year = 1970 + (i % 30);
    let month = 1 + (i % 12);
    let day = 1 + (i % 28);
    let tmt_year = year + 22;
    format!(
        "{year:04}{month:02}{day:02}{tmt_year:04}{month:02}{}{:03}",
        1 + (i % 2),
        1 + i % 999
    )
}

async fn import_of_one_inauguration(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    report(post_csv(&app, &admin, "/api/v1/opds/import", OPDS).await).await;
    let codes = ["SETDA", "DINKES", "KEC-SERANG"];
    let rows: Vec<String> = (0..269)
        .map(|i| {
            format!(
                "{},Pejabat {i},pns,Jabatan {i},administrator,III/a,{},2025-01-02",
                nip_for(i),
                codes[i % 3]
            )
        })
        .collect();
    let csv = officials_csv(&rows.iter().map(String::as_str).collect::<Vec<_>>());
    let started = Instant::now();
    let r = report(post_csv(&app, &admin, "/api/v1/officials/import", &csv).await).await;
    let took = started.elapsed();
    assert_eq!(r["created"], 269, "{r}");
    eprintln!("{backend:?}: 269-row import took {took:?} (debug build)");
    let mut seen = 0;
    let mut path = "/api/v1/officials?limit=200".to_string();
    loop {
        let page: Value = app.get(&path, Some(&admin)).await.json().await.unwrap();
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/officials?limit=200&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, 269);
}

async fn cli_import_follows_the_same_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let dir = app.data_dir();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
            .args(args)
            .env("DATABASE_URL", app.database_url())
            .env("SIDAK_DATA_DIR", &dir)
            .output()
            .unwrap()
    };
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let opds = samples.join("opds.csv");
    let officials = samples.join("officials.csv");
    let out = run(&["import", "officials", officials.to_str().unwrap()]);
    assert!(!out.status.success(), "no OPDs yet: every line is wrong");
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 0);

    let out = run(&["import", "opds", opds.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "import",
        "officials",
        "--dry-run",
        officials.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run"));
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 0);
    let out = run(&["import", "officials", officials.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&app, &admin, "/api/v1/officials").await, 8);
    assert_eq!(count(&app, &admin, "/api/v1/opds").await, 8);
}
