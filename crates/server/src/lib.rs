//! The HTTP adapter of Tessera (axum): routes, authentication, the error table and
//! the OpenAPI document.

pub mod access;
pub mod clock;
pub mod error;
pub mod json;
mod limiter;
pub mod openapi;
pub mod query;
mod quotes;
pub mod render;
mod reply;
mod routes;
pub mod sender;
mod session;
mod state;
mod till_profile;

pub use state::{reevaluate_tiers, AppState, ServerOptions};

use axum::http::{header, Method};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use error::ApiError;
use std::future::Future;
use std::sync::Arc;
use tessera_core::ErrorCode;

/// Builds the router with every route of API v1.
pub fn router(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route(
            "/v1/program",
            get(routes::program::get_program).put(routes::program::put_program),
        )
        .route("/v1/stores", get(routes::catalog::list_stores))
        .route(
            "/v1/stores/{store_id}",
            get(routes::catalog::get_store).put(routes::catalog::put_store),
        )
        .route("/v1/products", get(routes::catalog::list_products))
        .route(
            "/v1/products/{sku}",
            get(routes::catalog::get_product).put(routes::catalog::put_product),
        )
        .route("/v1/promotions", get(routes::promotions::list_promotions))
        .route(
            "/v1/promotions/preview",
            post(routes::promotions::preview_promotion),
        )
        .route(
            "/v1/promotions/{promotion_id}",
            get(routes::promotions::get_promotion)
                .put(routes::promotions::put_promotion)
                .delete(routes::promotions::delete_promotion),
        )
        .route("/v1/coupon-series", post(routes::coupons::put_series))
        .route(
            "/v1/coupon-series/{series_id}",
            get(routes::coupons::get_series),
        )
        .route(
            "/v1/coupon-series/{series_id}/generate",
            post(routes::coupons::generate),
        )
        .route(
            "/v1/segments/{segment_id}",
            get(routes::segments::get_segment).put(routes::segments::put_segment),
        )
        .route(
            "/v1/segments/{segment_id}/members",
            post(routes::segments::change_members),
        )
        .route(
            "/v1/customers",
            post(routes::customers::create_customer).get(routes::profiles::search_customers),
        )
        .route(
            "/v1/import/customers",
            post(routes::import::import).layer(axum::extract::DefaultBodyLimit::max(
                routes::import::MAX_IMPORT_BYTES,
            )),
        )
        .route(
            "/v1/customers/{customer_id}",
            get(routes::profiles::get_customer).patch(routes::profiles::patch_customer),
        )
        .route(
            "/v1/customers/{customer_id}/receipts",
            get(routes::timeline::customer_receipts),
        )
        .route(
            "/v1/customers/{customer_id}/timeline",
            get(routes::timeline::timeline),
        )
        .route(
            "/v1/customers/{customer_id}/merge",
            post(routes::merges::merge_customers),
        )
        .route(
            "/v1/customers/{customer_id}/unmerge",
            post(routes::merges::unmerge_customer),
        )
        .route("/v1/merge-candidates", get(routes::merges::list_candidates))
        .route(
            "/v1/merge-candidates/{candidate_id}/accept",
            post(routes::merges::accept_candidate),
        )
        .route(
            "/v1/merge-candidates/{candidate_id}/reject",
            post(routes::merges::reject_candidate),
        )
        .route(
            "/v1/customers/{customer_id}/adjustments",
            post(routes::service_desk::adjust),
        )
        .route(
            "/v1/customers/{customer_id}/cards",
            post(routes::service_desk::add_card),
        )
        .route(
            "/v1/customers/{customer_id}/cards/{number}/block",
            post(routes::service_desk::block_card),
        )
        .route(
            "/v1/customers/{customer_id}/cards/{number}/unblock",
            post(routes::service_desk::unblock_card),
        )
        .route(
            "/v1/customers/{customer_id}/cards/{number}/replace",
            post(routes::service_desk::replace_card),
        )
        .route(
            "/v1/customers/{customer_id}/erase",
            post(routes::privacy::erase_customer),
        )
        .route(
            "/v1/customers/{customer_id}/export",
            get(routes::privacy::export_customer),
        )
        .route(
            "/v1/customers/{customer_id}/balance",
            get(routes::customers::get_balance),
        )
        .route(
            "/v1/customers/{customer_id}/ledger",
            get(routes::customers::get_ledger),
        )
        .route("/v1/receipts/calculate", post(routes::receipts::calculate))
        .route("/v1/receipts/commit", post(routes::receipts::commit))
        .route("/v1/receipts/offline", post(routes::receipts::offline))
        .route(
            "/v1/receipts/{receipt_id}",
            get(routes::receipts::get_receipt),
        )
        .route(
            "/v1/receipts/{receipt_id}/returns",
            post(routes::receipts::return_receipt),
        )
        .route(
            "/v1/receipts/{receipt_id}/cancel",
            post(routes::receipts::cancel_receipt),
        )
        .route(
            "/v1/api-keys",
            post(routes::api_keys::create_key).get(routes::api_keys::list_keys),
        )
        .route(
            "/v1/api-keys/{key_id}",
            axum::routing::delete(routes::api_keys::revoke_key),
        )
        .route("/v1/audit", get(routes::audit::list_audit))
        .route(
            "/v1/receipts/redeem-code",
            post(routes::redeem_code::send_redeem_code),
        )
        .route("/v1/me", get(routes::me::profile))
        .route("/v1/me/logout", post(routes::me::logout))
        .route("/v1/me/balance", get(routes::me::balance))
        .route("/v1/me/ledger", get(routes::me::ledger))
        .route("/v1/me/receipts", get(routes::me::receipts))
        .route("/v1/me/coupons", get(routes::me::coupons))
        .route("/v1/me/redeem-code", post(routes::me::redeem_code))
        .route("/v1/me/consents", axum::routing::put(routes::me::consents))
        .route("/v1/staff/logout", post(routes::staff::logout))
        .route(
            "/v1/staff-users",
            post(routes::staff::create_user).get(routes::staff::list_users),
        )
        .route(
            "/v1/staff-users/{username}",
            axum::routing::patch(routes::staff::update_user),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::authorize,
        ));
    // Signing in needs no key (see `access::PUBLIC`); each route throttles itself.
    let public = Router::new()
        .route("/v1/me/login", post(routes::me::login))
        .route("/v1/me/token", post(routes::me::token))
        .route("/v1/staff/login", post(routes::staff::login));
    Router::new()
        .merge(v1)
        .merge(public)
        .route(
            "/health",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi::document(),
                )
            }),
        )
        .fallback(|method: Method| async move {
            let _ = method;
            ApiError::new(ErrorCode::RouteNotFound, "no such route; see /openapi.json")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "this route does not take that method",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(json::MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and closes
/// the store after its queued writes are durable.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ticker = tokio::spawn(state::catch_up_loop(state.clone()));
    let tiers = tokio::spawn(state::tier_loop(state.clone()));
    let poller = tokio::spawn(state::config_poll_loop(state.clone()));
    let app = router(state.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    ticker.abort();
    tiers.abort();
    poller.abort();
    state.store.close().await;
    result
}
