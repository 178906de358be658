//! `GET /api/v1/meta`: the words for every closed vocabulary, in Indonesian and English, so
//! the phone app and the dashboards show what the console shows. The labels themselves are
//! declared with each vocabulary (`domain::vocab`); this lists which vocabularies are served
//! and under which name.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use actix_web::http::header::{self, CacheControl, CacheDirective, EntityTag};
use actix_web::{get, HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::api_key::Scope;
use crate::domain::authority::{Authority, Post};
use crate::domain::calendar::{HolidayKind, WorkWeek};
use crate::domain::discipline::{Level, SanctionCode};
use crate::domain::events::{DeliveryStatus, EventType};
use crate::domain::followup::{Action, FollowUpSource, FollowUpStatus, HistoryAction};
use crate::domain::inspection::{
    AttendanceStatus, FindingCategory, FindingSource, InspectionStatus, Severity,
};
use crate::domain::nip::{EmploymentType, Gender};
use crate::domain::reference::{ActingKind, JfGrade, OpdKind, PositionKind};
use crate::domain::user::Role;
use crate::domain::vocab::{Label, Vocabulary};
use crate::http::conditional::{none_match, not_modified};

/// One vocabulary: each value's code (as the API sends it) with its labels.
pub type Labels = BTreeMap<&'static str, Label>;

fn labels<V: Vocabulary>() -> Labels {
    V::labels().into_iter().collect()
}

/// The labels of every vocabulary the API uses, by field name.
#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    /// `attendance[].status`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub attendance_status: Labels,
    /// `findings[].category`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub finding_category: Labels,
    /// `findings[].severity`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub severity: Labels,
    /// `findings[].source`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub finding_source: Labels,
    /// A report's `status`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub inspection_status: Labels,
    /// A follow-up's `status`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub follow_up_status: Labels,
    /// `action` of `POST /follow-ups/{id}/actions`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub follow_up_action: Labels,
    /// `history[].action` of a follow-up.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub history_action: Labels,
    /// A follow-up's `source`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub follow_up_source: Labels,
    /// `sanction`: the PP 94/2021 (PNS) and PPPK sanctions.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub sanction: Labels,
    /// `level` of a sanction and of a recommendation.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub discipline_level: Labels,
    /// The post a sanction's authority is judged by.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub post: Labels,
    /// Who may impose a sanction.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub authority: Labels,
    /// An OPD's `kind`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub opd_kind: Labels,
    /// An OPD's `work_week`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub work_week: Labels,
    /// A holiday's `kind`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub holiday_kind: Labels,
    /// `position_kind` of a placement.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub position_kind: Labels,
    /// `jf_grade` of a functional position.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub jf_grade: Labels,
    /// `kind` of an acting post (Plt./Plh.).
    #[schema(value_type = BTreeMap<String, Label>)]
    pub acting_kind: Labels,
    /// An official's `employment_type`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub employment_type: Labels,
    /// An official's `gender`, read from the NIP.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub gender: Labels,
    /// A user's `role`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub role: Labels,
    /// An API key's `scopes`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub api_key_scope: Labels,
    /// A webhook event's `type`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub webhook_event_type: Labels,
    /// A webhook delivery's `status`.
    #[schema(value_type = BTreeMap<String, Label>)]
    pub webhook_delivery_status: Labels,
}

impl Meta {
    pub fn new() -> Self {
        Meta {
            attendance_status: labels::<AttendanceStatus>(),
            finding_category: labels::<FindingCategory>(),
            severity: labels::<Severity>(),
            finding_source: labels::<FindingSource>(),
            inspection_status: labels::<InspectionStatus>(),
            follow_up_status: labels::<FollowUpStatus>(),
            follow_up_action: labels::<Action>(),
            history_action: labels::<HistoryAction>(),
            follow_up_source: labels::<FollowUpSource>(),
            sanction: labels::<SanctionCode>(),
            discipline_level: labels::<Level>(),
            post: labels::<Post>(),
            authority: labels::<Authority>(),
            opd_kind: labels::<OpdKind>(),
            work_week: labels::<WorkWeek>(),
            holiday_kind: labels::<HolidayKind>(),
            position_kind: labels::<PositionKind>(),
            jf_grade: labels::<JfGrade>(),
            acting_kind: labels::<ActingKind>(),
            employment_type: labels::<EmploymentType>(),
            gender: labels::<Gender>(),
            role: labels::<Role>(),
            api_key_scope: labels::<Scope>(),
            webhook_event_type: labels::<EventType>(),
            webhook_delivery_status: labels::<DeliveryStatus>(),
        }
    }
}

impl Default for Meta {
    fn default() -> Self {
        Meta::new()
    }
}

/// The answer, made once: the labels change only with the binary.
static ANSWER: LazyLock<(String, EntityTag)> = LazyLock::new(|| {
    let body = serde_json::to_string(&Meta::new()).unwrap_or_else(|_| "{}".into());
    let digest = hex::encode(&Sha256::digest(body.as_bytes())[..12]);
    (body, EntityTag::new_strong(digest))
});

/// Labels for every vocabulary.
///
/// Indonesian (`id`) and English (`en`) words for every code the API sends or takes
/// (statuses, categories, severities, sanctions, position kinds, …), the same the web
/// console shows. Public: the phone app may read it before anyone logs in. Carries an
/// `ETag`; it changes only with a new version of the server.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "The labels", body = Meta, headers(("ETag" = String))),
        (status = 304, description = "Unchanged since the given `If-None-Match`"),
    )
)]
#[get("/api/v1/meta")]
pub async fn meta(req: HttpRequest) -> HttpResponse {
    let (body, tag) = &*ANSWER;
    if none_match(&req, tag) {
        return not_modified(tag.clone());
    }
    HttpResponse::Ok()
        .insert_header(header::ETag(tag.clone()))
        .insert_header(CacheControl(vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(3600),
        ]))
        .content_type("application/json")
        .body(body.clone())
}
