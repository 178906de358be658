//! OPDs and officials: validation, NIP rules, transfers, roles, ETags.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{assert_problem, Backend, TestApp};

both_backends!(
    opds_are_created_listed_and_deactivated,
    opd_input_is_validated,
    officials_follow_the_nip_rules,
    transfers_keep_the_history,
    reference_roles,
    etags_give_304_until_a_change,
);

pub async fn create_opd(app: &TestApp, admin: &str, code: &str) -> String {
    let resp = app
        .post(
            "/api/v1/opds",
            Some(admin),
            &json!({"code": code, "name": format!("Dinas {code}"), "kind": "dinas", "latitude": -6.12, "longitude": 106.15}),
        )
        .await;
    assert_eq!(resp.status(), 201, "creating OPD {code}");
    resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub fn official_body(nip: &str, opd_id: &str) -> Value {
    json!({
        "nip": nip, "full_name": "Rina Marlina", "employment_type": "pns",
        "position_title": "Kepala Seksi", "position_kind": "pengawas", "rank": "III/c",
        "opd_id": opd_id, "effective_from": "2024-01-02"
    })
}

async fn opds_are_created_listed_and_deactivated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let resp = app
        .post(
            "/api/v1/opds",
            Some(&admin),
            &json!({"code": " dinkes ", "name": "Dinas Kesehatan", "kind": "dinas", "address": "Jl. Sudirman 3"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let opd: Value = resp.json().await.unwrap();
    assert_eq!(opd["code"], "DINKES");
    assert_eq!(opd["geofence_radius_m"], 150);
    assert_eq!(opd["active"], true);
    assert!(opd["latitude"].is_null());
    let id = opd["id"].as_str().unwrap().to_string();

    create_opd(&app, &admin, "KEC-SERANG").await;
    let resp = app
        .post(
            "/api/v1/opds",
            Some(&admin),
            &json!({"code": "Kec-Serang", "name": "Dup", "kind": "kecamatan"}),
        )
        .await;
    assert_problem(resp, 409).await;

    // Search by name or code, any case; filter by kind.
    let found: Value = app
        .get("/api/v1/opds?q=KESEHATAN", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let found: Value = app
        .get("/api/v1/opds?q=kec-", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"][0]["code"], "KEC-SERANG");
    let found: Value = app
        .get("/api/v1/opds?kind=kecamatan", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        found["items"].as_array().unwrap().len(),
        0,
        "KEC-SERANG was created as a dinas"
    );
    let found: Value = app
        .get("/api/v1/opds?q=%25", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 0, "% is literal");

    // Set coordinates, then clear them; deactivate.
    let path = format!("/api/v1/opds/{id}");
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"latitude": -6.117, "longitude": 106.153, "geofence_radius_m": 300}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let updated: Value = resp.json().await.unwrap();
    assert_eq!(updated["latitude"], -6.117);
    assert_eq!(updated["geofence_radius_m"], 300);
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"latitude": null, "longitude": null}),
        )
        .await;
    let updated: Value = resp.json().await.unwrap();
    assert!(updated["latitude"].is_null() && updated["longitude"].is_null());
    assert_eq!(updated["address"], "Jl. Sudirman 3");
    let resp = app
        .patch(&path, Some(&admin), &json!({"active": false}))
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["active"], false);
    let active: Value = app
        .get("/api/v1/opds?active=true", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active["items"].as_array().unwrap().len(), 1);
    // There is no delete.
    assert_problem(
        app.request(Method::DELETE, &path, Some(&admin), None).await,
        405,
    )
    .await;

    // A deactivated OPD cannot receive officials.
    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &id),
        )
        .await;
    let problem = assert_problem(resp, 422).await;
    assert_eq!(problem["errors"][0]["field"], "opd_id");
}

async fn opd_input_is_validated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({"code": "", "name": "X", "kind": "dinas"}), "code"),
        (json!({"code": "A B", "name": "X", "kind": "dinas"}), "code"),
        (json!({"code": "A", "name": " ", "kind": "dinas"}), "name"),
        (
            json!({"code": "A", "name": "X", "kind": "kabupaten"}),
            "kind",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "latitude": 91, "longitude": 0}),
            "latitude",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "latitude": 0, "longitude": 180.5}),
            "longitude",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "latitude": 0}),
            "longitude",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "geofence_radius_m": 9}),
            "geofence_radius_m",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "geofence_radius_m": 5001}),
            "geofence_radius_m",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "geofence_radius_m": 99999999999i64}),
            "geofence_radius_m",
        ),
        (
            json!({"code": "A", "name": "X", "kind": "dinas", "active": false}),
            "active",
        ),
    ];
    for (body, field) in cases {
        let problem =
            assert_problem(app.post("/api/v1/opds", Some(&admin), &body).await, 422).await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body}: {fields:?}");
    }
    let list: Value = app
        .get("/api/v1/opds", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_problem(
        app.get(
            &format!("/api/v1/opds/{}", uuid::Uuid::new_v4()),
            Some(&admin),
        )
        .await,
        404,
    )
    .await;
}

async fn officials_follow_the_nip_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let opd = create_opd(&app, &admin, "DINKES").await;

    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &opd),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let official: Value = resp.json().await.unwrap();
    assert_eq!(official["birth_date"], "1985-03-15");
    assert_eq!(official["gender"], "male");
    assert_eq!(official["current_assignment"]["opd_code"], "DINKES");
    assert_eq!(
        official["current_assignment"]["effective_from"],
        "2024-01-02"
    );
    assert!(official["current_assignment"]["effective_to"].is_null());
    assert_eq!(official["assignments"].as_array().unwrap().len(), 1);

    // The same NIP again → 409.
    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &opd),
        )
        .await;
    assert_problem(resp, 409).await;

    // PPPK: the middle digits are not a month.
    let mut pppk = official_body("199505052023211002", &opd);
    pppk["employment_type"] = json!("pppk");
    pppk["rank"] = json!("IX");
    let resp = app.post("/api/v1/officials", Some(&admin), &pppk).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.json::<Value>().await.unwrap()["gender"], "male");

    let invalid = [
        ("19850315201001100", "pns", "18 digits"),
        ("1985031520100110021", "pns", "18 digits"),
        ("19850315201001100X", "pns", "18 digits"),
        ("198513152010011003", "pns", "birth date"),
        ("193912012010011003", "pns", "before 1940"),
        ("198503152010131003", "pns", "CPNS start month"),
        ("198503152099011003", "pns", "in the future"),
        ("198503152001011003", "pns", "17th birthday"),
        ("198503152010013003", "pns", "gender"),
        ("199505052023219003", "pns", "CPNS start month"),
        ("199513052023211003", "pppk", "birth date"),
        ("199505052023213003", "pppk", "gender"),
        ("198503152010011000", "pns", "starts at 001"),
        ("199505052018211003", "pppk", "2019–"),
        (
            "200505052024211003",
            "pppk",
            "20 years after the birth year",
        ),
        ("19850315-201001-1-003", "pns", "18 digits"),
    ];
    for (nip, kind, reason) in invalid {
        let mut body = official_body(nip, &opd);
        body["employment_type"] = json!(kind);
        body["rank"] = json!(null);
        let problem = assert_problem(
            app.post("/api/v1/officials", Some(&admin), &body).await,
            422,
        )
        .await;
        let messages: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["field"] == "nip")
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(reason)),
            "{nip} ({kind}): {messages:?}"
        );
    }
    // Rank must fit the employment type.
    let mut body = official_body("198503152010011004", &opd);
    body["rank"] = json!("IX");
    let problem = assert_problem(
        app.post("/api/v1/officials", Some(&admin), &body).await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "rank");
    // Unknown OPD, future start, unknown position kind.
    let body = official_body("198503152010011004", &uuid::Uuid::new_v4().to_string());
    assert_problem(
        app.post("/api/v1/officials", Some(&admin), &body).await,
        422,
    )
    .await;
    let mut body = official_body("198503152010011004", &opd);
    body["effective_from"] = json!("2999-01-01");
    assert_problem(
        app.post("/api/v1/officials", Some(&admin), &body).await,
        422,
    )
    .await;
    let mut body = official_body("198503152010011004", &opd);
    body["position_kind"] = json!("eselon");
    assert_problem(
        app.post("/api/v1/officials", Some(&admin), &body).await,
        422,
    )
    .await;

    // Nothing of the refused ones was written.
    let list: Value = app
        .get("/api/v1/officials", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let by_nip: Value = app
        .get("/api/v1/officials?nip=199505052023211002", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_nip["items"][0]["employment_type"], "pppk");
    let by_q: Value = app
        .get("/api/v1/officials?q=rina%20MAR", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_q["items"].as_array().unwrap().len(), 2);
    let by_q: Value = app
        .get("/api/v1/officials?q=2023211", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_q["items"].as_array().unwrap().len(), 1);

    // A NIP typed as BKN prints it, or with a spreadsheet's `'`, is stored as its digits and
    // found however it is typed.
    for (typed, stored) in [
        ("19850315 201001 1 005", "198503152010011005"),
        ("'19850315.201001.1.006", "198503152010011006"),
    ] {
        let resp = app
            .post(
                "/api/v1/officials",
                Some(&admin),
                &official_body(typed, &opd),
            )
            .await;
        assert_eq!(resp.status(), 201, "{typed}");
        assert_eq!(resp.json::<Value>().await.unwrap()["nip"], stored);
    }
    let typed: Value = app
        .get("/api/v1/officials?nip=19850315.201001.1.005", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(typed["items"][0]["nip"], "198503152010011005");
    // The same person typed another way is the same NIP.
    assert_problem(
        app.post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("19850315 201001 1 006", &opd),
        )
        .await,
        409,
    )
    .await;
}

async fn transfers_keep_the_history(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let dinkes = create_opd(&app, &admin, "DINKES").await;
    let bapenda = create_opd(&app, &admin, "BAPENDA").await;
    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &dinkes),
        )
        .await;
    let id = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/officials/{id}");

    // Not before the current placement began, not in the future.
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"opd_id": bapenda, "effective_from": "2023-12-31"}),
        )
        .await;
    assert_problem(resp, 422).await;
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"opd_id": bapenda, "effective_from": "2999-01-01"}),
        )
        .await;
    assert_problem(resp, 422).await;
    // effective_from alone is not a transfer.
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"effective_from": "2025-01-01"}),
        )
        .await;
    assert_problem(resp, 422).await;

    let resp = app
        .patch(&path, Some(&admin), &json!({"opd_id": bapenda, "position_title": "Kepala Bidang", "position_kind": "administrator", "effective_from": "2025-02-03"}))
        .await;
    assert_eq!(resp.status(), 200);
    // A title change only, effective today by default.
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"position_title": "Sekretaris Badan"}),
        )
        .await;
    assert_eq!(resp.status(), 200);
    // A name change is not a transfer.
    let resp = app
        .patch(
            &path,
            Some(&admin),
            &json!({"full_name": "Rina M. Marlina", "rank": "III/d"}),
        )
        .await;
    let official: Value = resp.json().await.unwrap();
    assert_eq!(official["full_name"], "Rina M. Marlina");
    assert_eq!(official["rank"], "III/d");

    let history = official["assignments"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Jakarta)
        .date_naive()
        .to_string();
    assert_eq!(history[0]["opd_code"], "DINKES");
    assert_eq!(history[0]["effective_from"], "2024-01-02");
    assert_eq!(history[0]["effective_to"], "2025-02-03");
    assert_eq!(history[1]["opd_code"], "BAPENDA");
    assert_eq!(history[1]["position_title"], "Kepala Bidang");
    assert_eq!(history[1]["effective_from"], "2025-02-03");
    assert_eq!(history[1]["effective_to"], json!(today));
    assert_eq!(history[2]["position_title"], "Sekretaris Badan");
    assert_eq!(history[2]["position_kind"], "administrator");
    assert_eq!(history[2]["effective_from"], json!(today));
    assert!(history[2]["effective_to"].is_null());
    assert_eq!(official["current_assignment"], history[2]);

    // Current-placement filters follow the transfer.
    let at_dinkes: Value = app
        .get(&format!("/api/v1/officials?opd_id={dinkes}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(at_dinkes["items"].as_array().unwrap().len(), 0);
    let at_bapenda: Value = app
        .get(
            &format!("/api/v1/officials?opd_id={bapenda}&position_kind=administrator"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(at_bapenda["items"].as_array().unwrap().len(), 1);

    // Deactivated officials stay readable; the NIP cannot change.
    let resp = app
        .patch(&path, Some(&admin), &json!({"active": false}))
        .await;
    assert_eq!(resp.json::<Value>().await.unwrap()["active"], false);
    assert_problem(
        app.patch(&path, Some(&admin), &json!({"nip": "198503152010011003"}))
            .await,
        422,
    )
    .await;
}

async fn reference_roles(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let opd = create_opd(&app, &admin, "DINKES").await;
    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &opd),
        )
        .await;
    let official = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let opd_path = format!("/api/v1/opds/{opd}");
    let official_path = format!("/api/v1/officials/{official}");
    let csv = "code,name,kind\nNEW,Baru,dinas\n";

    for role in ["supervisor", "inspector", "viewer"] {
        let token = app.token_for_role(&admin, role).await;
        let t = Some(token.as_str());
        // Only admins write.
        assert_problem(
            app.post(
                "/api/v1/opds",
                t,
                &json!({"code": "X", "name": "X", "kind": "dinas"}),
            )
            .await,
            403,
        )
        .await;
        assert_problem(
            app.patch(&opd_path, t, &json!({"active": false})).await,
            403,
        )
        .await;
        assert_problem(
            app.post(
                "/api/v1/officials",
                t,
                &official_body("198503152010011005", &opd),
            )
            .await,
            403,
        )
        .await;
        assert_problem(
            app.patch(&official_path, t, &json!({"full_name": "X"}))
                .await,
            403,
        )
        .await;
        for path in ["/api/v1/opds/import", "/api/v1/officials/import"] {
            let resp = app
                .client
                .post(app.url(path))
                .bearer_auth(&token)
                .header("content-type", "text/csv")
                .body(csv)
                .send()
                .await
                .unwrap();
            assert_problem(resp, 403).await;
        }
        // Everyone reads OPDs.
        assert_eq!(app.get(&opd_path, t).await.status(), 200);
        assert_eq!(app.get("/api/v1/opds", t).await.status(), 200);
        // Officials and the sync hold personal data: not for viewers.
        for path in [official_path.as_str(), "/api/v1/officials", "/api/v1/sync"] {
            let status = app.get(path, t).await.status();
            let expected = if role == "viewer" { 403 } else { 200 };
            assert_eq!(status, expected, "{role} GET {path}");
        }
    }
    for path in [
        opd_path.as_str(),
        official_path.as_str(),
        "/api/v1/opds",
        "/api/v1/officials",
        "/api/v1/sync",
    ] {
        assert_problem(app.get(path, None).await, 401).await;
    }
    // Nothing changed.
    let o: Value = app
        .get(&official_path, Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(o["full_name"], "Rina Marlina");
    let list: Value = app
        .get("/api/v1/opds", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn etags_give_304_until_a_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin_token().await;
    let opd = create_opd(&app, &admin, "DINKES").await;
    let resp = app
        .post(
            "/api/v1/officials",
            Some(&admin),
            &official_body("198503152010011002", &opd),
        )
        .await;
    let official = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (path, change) in [
        (
            format!("/api/v1/opds/{opd}"),
            json!({"name": "Dinas Kesehatan Kota"}),
        ),
        (
            format!("/api/v1/officials/{official}"),
            json!({"position_title": "Kepala Bidang"}),
        ),
    ] {
        let first = app.get(&path, Some(&admin)).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        let again = app
            .client
            .get(app.url(&path))
            .bearer_auth(&admin)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(app.patch(&path, Some(&admin), &change).await.status(), 200);
        let changed = app
            .client
            .get(app.url(&path))
            .bearer_auth(&admin)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{path}");
        assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);
    }
}
