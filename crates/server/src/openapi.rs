//! The OpenAPI document, generated from the wire types and handlers. It is committed
//! as `openapi/tessera.json`; a test fails when the two drift apart.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera API", version = "1", description = "Retail loyalty engine: POS receipts, points ledger, configuration, customer profiles (CRM). Money is integer minor units; points are integers; every call needs `Authorization: Bearer <key>`."),
    paths(
        crate::routes::program::get_program,
        crate::routes::program::put_program,
        crate::routes::catalog::put_store,
        crate::routes::catalog::get_store,
        crate::routes::catalog::list_stores,
        crate::routes::catalog::put_product,
        crate::routes::catalog::get_product,
        crate::routes::catalog::list_products,
        crate::routes::promotions::put_promotion,
        crate::routes::promotions::get_promotion,
        crate::routes::promotions::list_promotions,
        crate::routes::promotions::delete_promotion,
        crate::routes::promotions::preview_promotion,
        crate::routes::coupons::put_series,
        crate::routes::coupons::get_series,
        crate::routes::coupons::generate,
        crate::routes::segments::put_segment,
        crate::routes::segments::get_segment,
        crate::routes::segments::change_members,
        crate::routes::customers::create_customer,
        crate::routes::import::import,
        crate::routes::profiles::search_customers,
        crate::routes::profiles::get_customer,
        crate::routes::profiles::patch_customer,
        crate::routes::customers::get_balance,
        crate::routes::customers::get_ledger,
        crate::routes::timeline::customer_receipts,
        crate::routes::timeline::timeline,
        crate::routes::merges::merge_customers,
        crate::routes::merges::unmerge_customer,
        crate::routes::merges::list_candidates,
        crate::routes::merges::accept_candidate,
        crate::routes::merges::reject_candidate,
        crate::routes::service_desk::adjust,
        crate::routes::service_desk::add_card,
        crate::routes::service_desk::block_card,
        crate::routes::service_desk::unblock_card,
        crate::routes::service_desk::replace_card,
        crate::routes::privacy::erase_customer,
        crate::routes::privacy::export_customer,
        crate::routes::receipts::calculate,
        crate::routes::receipts::commit,
        crate::routes::receipts::offline,
        crate::routes::receipts::return_receipt,
        crate::routes::receipts::cancel_receipt,
        crate::routes::receipts::get_receipt,
        crate::routes::api_keys::create_key,
        crate::routes::api_keys::list_keys,
        crate::routes::api_keys::revoke_key,
        crate::routes::audit::list_audit,
        crate::routes::redeem_code::send_redeem_code,
        crate::routes::me::login,
        crate::routes::me::token,
        crate::routes::me::logout,
        crate::routes::me::profile,
        crate::routes::me::balance,
        crate::routes::me::ledger,
        crate::routes::me::receipts,
        crate::routes::me::coupons,
        crate::routes::me::redeem_code,
        crate::routes::me::consents,
        crate::routes::staff::login,
        crate::routes::staff::logout,
        crate::routes::staff::create_user,
        crate::routes::staff::list_users,
        crate::routes::staff::update_user,
    ),
    modifiers(&BearerAuth, &RouteScopes),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}

/// Writes each operation's scopes and staff roles (from the one access table) into its
/// description and an `x-access` extension (`{"scopes", "roles"}`), so integrators read
/// who may call what next to the route.
struct RouteScopes;

impl Modify for RouteScopes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for route in crate::access::ROUTES {
            let Some(item) = openapi.paths.paths.get_mut(route.path) else {
                continue;
            };
            let operation = match route.method {
                "GET" => item.get.as_mut(),
                "PUT" => item.put.as_mut(),
                "POST" => item.post.as_mut(),
                "DELETE" => item.delete.as_mut(),
                "PATCH" => item.patch.as_mut(),
                _ => None,
            };
            let Some(operation) = operation else { continue };
            let names: Vec<&str> = route.scopes.iter().map(|s| s.as_str()).collect();
            let line = if names.is_empty() {
                "Public: no key; throttled per phone or user.".to_string()
            } else {
                format!("Scopes: {}.", names.join(", "))
            };
            let line = match staff_roles(route.scopes) {
                roles if roles.is_empty() => line,
                roles => format!("{line} Staff roles: {}.", roles.join(", ")),
            };
            operation.description = Some(match operation.description.take() {
                Some(text) if !text.is_empty() => format!("{text}\n\n{line}"),
                _ => line,
            });
            let roles = staff_roles(route.scopes);
            let mut extensions = operation.extensions.take().unwrap_or_default();
            // One key: the extensions are a hash map, so two keys would come out in
            // either order and the committed document would drift.
            extensions.insert(
                "x-access".into(),
                serde_json::json!({"scopes": names, "roles": roles}),
            );
            operation.extensions = Some(extensions);
        }
    }
}

/// The staff roles whose scopes reach a route open to `scopes`.
fn staff_roles(scopes: &[tessera_core::access::Scope]) -> Vec<&'static str> {
    let allowed = tessera_core::access::Scopes::of(scopes);
    tessera_core::access::StaffRole::ALL
        .into_iter()
        .filter(|role| !scopes.is_empty() && role.scopes().may(allowed))
        .map(|role| role.as_str())
        .collect()
}

/// The OpenAPI document as pretty JSON.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
