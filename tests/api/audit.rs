//! The audit trail: every change recorded, the chain verifies, tampering is found.

use diesel::RunQueryDsl;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, PASSWORD};
use crate::inspections::Field;

both_backends!(
    changes_are_audited_and_the_chain_verifies,
    the_database_refuses_changes_to_the_trail,
    tampering_is_found_where_it_happened
);

use crate::helpers::connect;

fn exec(url: &str, sql: &str) -> Result<usize, diesel::result::Error> {
    let mut conn = connect(url);
    diesel::sql_query(sql).execute(&mut conn)
}

fn drop_triggers(url: &str, backend: Backend) {
    let statements: &[&str] = match backend {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ],
        Backend::Postgres => &[
            "DROP TRIGGER audit_log_no_change ON audit_log",
            "DROP TRIGGER audit_log_no_truncate ON audit_log",
        ],
    };
    for s in statements {
        exec(url, s).unwrap();
    }
}

async fn verify(f: &Field) -> Value {
    let resp = f.app.get("/api/v1/audit/verify", Some(&f.admin)).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

async fn workload(f: &Field) {
    let mut body = f.report();
    body["submit"] = json!(true);
    assert_eq!(f.post_report(&f.inspector, &body).await.status(), 201);
    f.app.login("nobody", "wrong-password-x").await;
}

async fn changes_are_audited_and_the_chain_verifies(backend: Backend) {
    let f = Field::new(backend).await;
    workload(&f).await;
    let v = verify(&f).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["first_bad_id"].is_null());
    let entries = v["entries"].as_i64().unwrap();
    assert!(entries >= 12, "{v}");
    assert_eq!(v["head_seq"], entries);

    let page: Value = f
        .app
        .get("/api/v1/audit?limit=200", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    for expected in [
        "user.create",
        "auth.login",
        "auth.login_failed",
        "opd.create",
        "official.create",
        "inspection.create",
        "inspection.submit",
        "follow_up.raise",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    // Newest first, seq without gaps, each entry chained to the one before.
    for pair in items.windows(2) {
        assert_eq!(
            pair[0]["seq"].as_i64().unwrap(),
            pair[1]["seq"].as_i64().unwrap() + 1
        );
        assert_eq!(pair[0]["prev_hash"], pair[1]["hash"]);
    }
    // Filters.
    let opd_entries: Value = f
        .app
        .get(
            &format!("/api/v1/audit?entity=opd&entity_id={}", f.opd),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(opd_entries["items"].as_array().unwrap().len(), 1);
    let supervisor = f.app.token_for_role(&f.admin, "supervisor").await;
    assert_eq!(
        f.app.get("/api/v1/audit", Some(&supervisor)).await.status(),
        200
    );
    assert_problem(
        f.app.get("/api/v1/audit/verify", Some(&supervisor)).await,
        403,
    )
    .await;
    assert_problem(f.app.get("/api/v1/audit", Some(&f.inspector)).await, 403).await;
    // No password hash, password or token in any entry.
    let me: Value = f
        .app
        .get("/api/v1/me", Some(&f.inspector))
        .await
        .json()
        .await
        .unwrap();
    let session = f
        .app
        .login_ok(me["username"].as_str().unwrap(), PASSWORD)
        .await;
    let all: Value = f
        .app
        .get("/api/v1/audit?limit=200", Some(&f.admin))
        .await
        .json()
        .await
        .unwrap();
    let text = all.to_string();
    assert!(!text.contains("argon2") && !text.contains(PASSWORD));
    assert!(!text.contains(session["refresh_token"].as_str().unwrap()));
    assert!(!text.contains(session["access_token"].as_str().unwrap()));
    // A draft edit records the fields before and after.
    let draft = f.report();
    let id = draft["id"].as_str().unwrap().to_string();
    f.post_report(&f.inspector, &draft).await;
    f.app
        .patch(
            &format!("/api/v1/inspections/{id}"),
            Some(&f.inspector),
            &json!({"notes": "Diperbaiki"}),
        )
        .await;
    let trail: Value = f
        .app
        .get(
            &format!("/api/v1/audit?entity=inspection&entity_id={id}"),
            Some(&f.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let update = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "inspection.update")
        .unwrap()
        .clone();
    assert_eq!(
        update["details"]["changes"]["notes"],
        json!({"before": "Sidak pagi", "after": "Diperbaiki"})
    );
    // Paging reaches the first entry.
    let mut seen = 0;
    let mut path = "/api/v1/audit?limit=5".to_string();
    loop {
        let page: Value = f.app.get(&path, Some(&f.admin)).await.json().await.unwrap();
        seen += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/audit?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert!(seen as i64 >= entries);
}

async fn the_database_refuses_changes_to_the_trail(backend: Backend) {
    let f = Field::new(backend).await;
    let url = f.app.database_url();
    assert!(exec(&url, "UPDATE audit_log SET action = 'x' WHERE seq = 2").is_err());
    assert!(exec(&url, "DELETE FROM audit_log WHERE seq = 2").is_err());
    if backend == Backend::Postgres {
        assert!(exec(&url, "TRUNCATE audit_log").is_err());
    }
    assert_eq!(verify(&f).await["ok"], true);
}

async fn tampering_is_found_where_it_happened(backend: Backend) {
    type Tamper = fn(&str);
    let cases: [(&str, Tamper, i64); 3] = [
        (
            "edit",
            |url| {
                exec(
                    url,
                    "UPDATE audit_log SET details = '{\"role\":\"admin\"}' WHERE seq = 5",
                )
                .unwrap();
            },
            5,
        ),
        (
            "delete",
            |url| {
                exec(url, "DELETE FROM audit_log WHERE seq = 6").unwrap();
            },
            6,
        ),
        (
            "swap",
            |url| {
                exec(url, "UPDATE audit_log SET seq = -1 WHERE seq = 7").unwrap();
                exec(url, "UPDATE audit_log SET seq = 7 WHERE seq = 8").unwrap();
                exec(url, "UPDATE audit_log SET seq = 8 WHERE seq = -1").unwrap();
            },
            7,
        ),
    ];
    for (what, tamper, at) in cases {
        let f = Field::new(backend).await;
        assert_eq!(verify(&f).await["ok"], true);
        let url = f.app.database_url();
        drop_triggers(&url, backend);
        tamper(&url);
        let v = verify(&f).await;
        assert_eq!(v["ok"], false, "{what}: {v}");
        assert_eq!(v["first_bad_id"], at, "{what}: {v}");
    }

    // A truncated tail still chains; the head kept outside the database gives it away.
    let f = Field::new(backend).await;
    let url = f.app.database_url();
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sidak"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("SIDAK_DATA_DIR", f.app.data_dir())
            .output()
            .unwrap()
    };
    let head = String::from_utf8(cli(&["audit", "head"]).stdout)
        .unwrap()
        .trim()
        .to_string();
    let (seq, _) = head.split_once(':').unwrap();
    let seq: i64 = seq.parse().unwrap();
    assert!(cli(&["audit", "verify", "--head", &head]).status.success());
    drop_triggers(&url, backend);
    exec(
        &url,
        &format!("DELETE FROM audit_log WHERE seq >= {}", seq - 1),
    )
    .unwrap();
    assert_eq!(
        verify(&f).await["ok"],
        true,
        "the rest of the chain is intact"
    );
    let out = cli(&["audit", "verify", "--head", &head]);
    assert!(!out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["first_bad_id"], seq - 1, "{report}");
}
