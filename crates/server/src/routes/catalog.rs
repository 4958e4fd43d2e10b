//! `/v1/stores` and `/v1/products`.

use super::path_id;
use crate::access::annotate;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::convert::{product_from, product_out, store_from, store_out};
use tessera_api::{
    ErrorBody, ProductBody, ProductList, ProductOut, StoreBody, StoreList, StoreOut,
};
use tessera_core::ErrorCode;

/// Creates or replaces a store.
#[utoipa::path(put, path = "/v1/stores/{store_id}", tag = "configuration", request_body = StoreBody,
    params(("store_id" = String, Path)), responses((status = 200, body = StoreOut), (status = 422, body = ErrorBody)))]
pub async fn put_store(
    State(state): State<Arc<AppState>>,
    Path(store_id): Path<String>,
    body: Body<StoreBody>,
) -> Result<Json<StoreOut>, ApiError> {
    path_id("store_id", &store_id)?;
    let store = store_from(&store_id, body.value)?;
    let before = state
        .config()
        .stores
        .get(&store_id)
        .map(|(stored, _)| store_out(stored));
    let after = store_out(&store);
    annotate(before.as_ref(), Some(&after));
    state.store.put_store(store.clone()).await?;
    state.reload_config().await?;
    Ok(Json(after))
}

/// One store.
#[utoipa::path(get, path = "/v1/stores/{store_id}", tag = "configuration", params(("store_id" = String, Path)),
    responses((status = 200, body = StoreOut), (status = 404, body = ErrorBody)))]
pub async fn get_store(
    State(state): State<Arc<AppState>>,
    Path(store_id): Path<String>,
) -> Result<Json<StoreOut>, ApiError> {
    let config = state.config();
    let (store, _) = config
        .stores
        .get(&store_id)
        .ok_or_else(|| ApiError::new(ErrorCode::StoreNotFound, format!("no store {store_id:?}")))?;
    Ok(Json(store_out(store)))
}

/// All stores.
#[utoipa::path(get, path = "/v1/stores", tag = "configuration", responses((status = 200, body = StoreList)))]
pub async fn list_stores(State(state): State<Arc<AppState>>) -> Result<Json<StoreList>, ApiError> {
    let config = state.config();
    let mut items: Vec<StoreOut> = config.stores.values().map(|(s, _)| store_out(s)).collect();
    items.sort_by(|a, b| a.store_id.cmp(&b.store_id));
    Ok(Json(StoreList { items }))
}

/// Creates or replaces a product.
#[utoipa::path(put, path = "/v1/products/{sku}", tag = "configuration", request_body = ProductBody,
    params(("sku" = String, Path)), responses((status = 200, body = ProductOut), (status = 422, body = ErrorBody)))]
pub async fn put_product(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
    body: Body<ProductBody>,
) -> Result<Json<ProductOut>, ApiError> {
    path_id("sku", &sku)?;
    let product = product_from(&sku, body.value)?;
    state.store.put_products(vec![product.clone()]).await?;
    state.reload_config().await?;
    Ok(Json(product_out(&product)))
}

/// One product.
#[utoipa::path(get, path = "/v1/products/{sku}", tag = "configuration", params(("sku" = String, Path)),
    responses((status = 200, body = ProductOut), (status = 404, body = ErrorBody)))]
pub async fn get_product(
    State(state): State<Arc<AppState>>,
    Path(sku): Path<String>,
) -> Result<Json<ProductOut>, ApiError> {
    let config = state.config();
    let product = config
        .products
        .get(&sku)
        .ok_or_else(|| ApiError::new(ErrorCode::ProductNotFound, format!("no product {sku:?}")))?;
    Ok(Json(product_out(product)))
}

/// All products, by SKU.
#[utoipa::path(get, path = "/v1/products", tag = "configuration", responses((status = 200, body = ProductList)))]
pub async fn list_products(
    State(state): State<Arc<AppState>>,
) -> Result<Json<ProductList>, ApiError> {
    let config = state.config();
    let mut items: Vec<ProductOut> = config.products.values().map(product_out).collect();
    items.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(Json(ProductList { items }))
}
