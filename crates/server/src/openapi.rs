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
    ),
    modifiers(&BearerAuth),
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

/// The OpenAPI document as pretty JSON.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}
