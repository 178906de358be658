// The inspector's and the supervisor's job through a client generated from openapi.yaml, as
// the phone team writes it: no casts, no `!`, no `any`, under `strict`. Run by
// scripts/client-check.py against a server on an empty database; any surprise exits non-zero.
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

function fail(message: string): never {
  throw new Error(message);
}

function setting(name: string): string {
  return process.env[name] ?? fail(`${name} is not set`);
}

function check(ok: boolean, what: string): void {
  if (!ok) {
    fail(what);
  }
}

const baseUrl = setting("SIDAK_URL");
const adminPassword = setting("SIDAK_ADMIN_PASSWORD");
const anonymous = createClient<paths>({ baseUrl });

async function login(username: string, password: string) {
  const { data, response } = await anonymous.POST("/api/v1/auth/login", {
    body: { username, password },
  });
  if (!data) {
    return fail(`login as ${username}: ${response.status}`);
  }
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: `Bearer ${data.access_token}` },
  });
}

// A closed vocabulary is a closed type: a typo does not compile.
// @ts-expect-error: not a sanction code
const typo: Schemas["SanctionCode"] = "teguran-lisan";
void typo;

const run = Date.now().toString(36);
const admin = await login("admin", adminPassword);

// Reference data and two accounts (admin).
const opd = await admin.POST("/api/v1/opds", {
  body: { code: `UJI-${run}`, name: "Dinas Uji Klien", kind: "dinas", latitude: -6.1171, longitude: 106.1531 },
});
const opdId = opd.data?.id ?? fail(`create OPD: ${opd.response.status}`);
const official = await admin.POST("/api/v1/officials", {
  body: {
    nip: "198503152010011002",
    full_name: "Budi Santoso",
    employment_type: "pns",
    position_title: "Analis Kebijakan",
    position_kind: "fungsional",
    opd_id: opdId,
    // Placed long before the visit: without a date the placement starts today (WIB), and a
    // visit an hour ago falls on the day before when this runs just after midnight WIB.
    effective_from: "2024-01-02",
  },
});
const created = official.data ?? fail(`create official: ${official.response.status}`);
const officialId = created.id;
const history: Schemas["Assignment"][] = created.assignments;
check(history.length === 1, "a new official has one placement");
const password = "kata-sandi-uji-klien-1";
for (const [username, role] of [
  [`inspektur.${run}`, "inspector"],
  [`penyelia.${run}`, "supervisor"],
] as const) {
  const user = await admin.POST("/api/v1/users", {
    body: { username, full_name: `Akun ${role}`, role, password },
  });
  check(user.response.status === 201, `create ${role}: ${user.response.status}`);
}

// The inspector posts a whole report, submitted at once.
const inspector = await login(`inspektur.${run}`, password);
const reportId = randomUUID();
const findingId = randomUUID();
const posted = await inspector.POST("/api/v1/inspections", {
  body: {
    id: reportId,
    opd_id: opdId,
    started_at: new Date(Date.now() - 3_600_000).toISOString(),
    notes: "Sidak pagi",
    location: { latitude: -6.1172, longitude: 106.1532, accuracy_m: 8 },
    attendance: [{ id: randomUUID(), official_id: officialId, status: "absent_unexcused" }],
    findings: [
      {
        id: findingId,
        official_id: officialId,
        category: "idle",
        severity: "high",
        description: "Meja pelayanan kosong pada jam kerja",
      },
    ],
    submit: true,
  },
});
check(posted.response.status === 201, `post report: ${posted.response.status}`);

// A photo of the finding: uploaded as multipart, downloaded as the same bytes.
const photo = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGM4IScHRAwQCgAfJgQRoo8irwAAAABJRU5ErkJggg==",
  "base64",
);
const photoId = randomUUID();
const uploaded = await inspector.POST("/api/v1/inspections/{id}/evidence", {
  params: { path: { id: reportId } },
  body: { file: new Blob([photo], { type: "image/png" }), meta: { id: photoId, finding_id: findingId } },
  bodySerializer(body) {
    const form = new FormData();
    form.append("file", body.file, "photo.png");
    if (body.meta) {
      form.append("meta", new Blob([JSON.stringify(body.meta)], { type: "application/json" }));
    }
    return form;
  },
});
const evidence = uploaded.data ?? fail(`upload photo: ${uploaded.response.status}`);
check(evidence.size_bytes === photo.length, "the stored size is the photo's");
const downloaded = await inspector.GET("/api/v1/evidence/{id}/content", {
  params: { path: { id: photoId } },
  parseAs: "blob",
});
const bytes = downloaded.data ?? fail(`download photo: ${downloaded.response.status}`);
check(Buffer.from(await bytes.arrayBuffer()).equals(photo), "the downloaded bytes are the uploaded ones");
check(downloaded.response.headers.get("content-type") === "image/png", "the photo comes as image/png");

// The report read back: every row is there, no null checks needed.
const read = await inspector.GET("/api/v1/inspections/{id}", { params: { path: { id: reportId } } });
const report = read.data ?? fail(`read report: ${read.response.status}`);
check(report.status === "submitted", "the report is submitted");
const sources = report.findings.map((f: Schemas["FindingOut"]) => `${f.source}:${f.category}`).sort();
check(sources.join(",") === "attendance:absence,report:idle", `findings: ${sources.join(",")}`);
check(report.attendance.length === 1 && report.evidence.length === 1, "one attendance row, one photo");
check(report.evidence[0]?.content_url === `/api/v1/evidence/${photoId}/content`, "the photo's address");

// A page of reports: list rows carry counts, not rows.
const listed = await inspector.GET("/api/v1/inspections", { params: { query: { limit: 10 } } });
const page: Schemas["Page_InspectionSummary"] = listed.data ?? fail(`list reports: ${listed.response.status}`);
const items: Schemas["InspectionSummary"][] = page.items;
const row = items.find((i) => i.id === reportId) ?? fail("the report is on the first page");
const counted: number = row.findings_count + row.attendance_count;
check(counted === 3, `counts: ${counted}`);
check(page.next_cursor === null, "one page only");

// The supervisor reviews the follow-up the flag rules raised and decides it.
const supervisor = await login(`penyelia.${run}`, password);
const raised = await supervisor.GET("/api/v1/follow-ups", { params: { query: { official_id: officialId } } });
const summary = raised.data?.items[0] ?? fail(`list follow-ups: ${raised.response.status}`);
const source: Schemas["FollowUpSource"] = summary.source;
check(source === "auto", "raised by the flag rules");
const opened = await supervisor.GET("/api/v1/follow-ups/{id}", { params: { path: { id: summary.id } } });
const followUp = opened.data ?? fail(`read follow-up: ${opened.response.status}`);
check(followUp.findings.length === 2, "both findings are attached");
check(followUp.history.map((h) => h.action).join(",") === "raise", "its history");
const advised: Schemas["SanctionCode"] = followUp.recommendation.sanction;
check(advised === "none", `one day of absence is below the first threshold (${advised})`);
let version = opened.response.headers.get("ETag") ?? fail("a follow-up carries an ETag");
for (const body of [
  { action: "start_review" },
  { action: "decide", sanction: "teguran_lisan", note: "Teguran lisan dinilai cukup" },
] satisfies Schemas["ActionRequest"][]) {
  const acted = await supervisor.POST("/api/v1/follow-ups/{id}/actions", {
    params: { path: { id: summary.id }, header: { "If-Match": version } },
    body,
  });
  const now = acted.data ?? fail(`${body.action}: ${acted.response.status}`);
  version = acted.response.headers.get("ETag") ?? fail("an action answers with the ETag");
  check(now.status === (body.action === "decide" ? "decided" : "in_review"), `${body.action} → ${now.status}`);
}
const stale = await supervisor.POST("/api/v1/follow-ups/{id}/actions", {
  params: { path: { id: summary.id }, header: { "If-Match": "\"1\"" } },
  body: { action: "comment", note: "Basi" },
});
check(stale.response.status === 412, `a stale If-Match is 412 (${stale.response.status})`);
check(stale.error?.status === 412, "as problem+json");

// A conditional read: the official the client holds is still current.
const first = await supervisor.GET("/api/v1/officials/{id}", { params: { path: { id: officialId } } });
const etag = first.response.headers.get("ETag") ?? fail("an official carries an ETag");
const again = await supervisor.GET("/api/v1/officials/{id}", {
  params: { path: { id: officialId }, header: { "If-None-Match": etag } },
});
check(again.response.status === 304, `If-None-Match gives 304 (${again.response.status})`);

console.log(`client flow passed: report ${reportId}, follow-up ${summary.id} decided`);
