//! Every route of the API, registered in one place.

use utoipa_actix_web::service_config::ServiceConfig;

use super::{
    api_keys, audit, auth, calendar, dashboards, evidence, followups, inspections, meta, officials,
    opds, ops, sync, users, webhooks,
};

/// Every documented route. Registering through `utoipa_actix_web` puts each handler's
/// `#[utoipa::path]` into the OpenAPI document, so a route cannot exist undocumented.
pub fn register(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(ops::openapi_yaml)
        .service(ops::metrics)
        .service(meta::meta)
        .service(auth::login)
        .service(auth::refresh_tokens)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::change_password)
        .service(users::create_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(api_keys::create_api_key)
        .service(api_keys::list_api_keys)
        .service(api_keys::revoke_api_key)
        .service(opds::list_opds)
        .service(opds::create_opd)
        .service(opds::import_opds)
        .service(opds::get_opd)
        .service(opds::update_opd)
        .service(officials::list_officials)
        .service(officials::create_official)
        .service(officials::import_officials)
        .service(officials::get_official)
        .service(officials::update_official)
        .service(officials::start_acting)
        .service(officials::end_acting)
        .service(sync::sync)
        .service(inspections::create_inspection)
        .service(inspections::list_inspections)
        .service(inspections::get_inspection)
        .service(inspections::update_inspection)
        .service(inspections::add_finding)
        .service(inspections::submit_inspection)
        .service(evidence::upload_evidence)
        .service(evidence::evidence_content)
        .service(followups::raise)
        .service(followups::list)
        .service(followups::get_one)
        .service(followups::act)
        .service(followups::record)
        .service(followups::excuse)
        .service(calendar::list)
        .service(calendar::put_holiday)
        .service(calendar::delete_holiday)
        .service(audit::list)
        .service(audit::verify)
        .service(dashboards::summary)
        .service(dashboards::opds)
        .service(dashboards::trends)
        .service(dashboards::officials)
        .service(webhooks::create_webhook)
        .service(webhooks::list_webhooks)
        .service(webhooks::get_webhook)
        .service(webhooks::update_webhook)
        .service(webhooks::rotate_webhook_secret)
        .service(webhooks::delete_webhook)
        .service(webhooks::list_webhook_deliveries)
        .service(webhooks::redeliver_webhook_delivery);
}
