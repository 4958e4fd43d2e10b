//! Coupon series and their codes.

use crate::convert::local_time;
use serde::{Deserialize, Serialize};
use tessera_core::coupon::CouponSeries;
use tessera_core::CoreError;
use utoipa::ToSchema;

/// A coupon series: codes that unlock one promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponSeriesBody {
    pub id: String,
    /// The promotion its codes unlock; its `conditions.coupon` must be
    /// `{"series": id}`.
    pub promotion: String,
    /// Each code works for one committed receipt (default); a cancel or full return
    /// frees it. `false`: each code works any number of times.
    #[serde(default = "yes")]
    pub single_use: bool,
    /// Store-local date-times the codes are valid in (`2026-03-01T00:00`).
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
}

fn yes() -> bool {
    true
}

/// A stored coupon series.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponSeriesOut {
    pub id: String,
    pub promotion: String,
    pub single_use: bool,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
}

/// How many codes to generate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateBody {
    /// 1 to 10000 codes per call.
    pub count: u32,
}

/// Generated codes, to hand out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GeneratedOut {
    pub series: String,
    /// `XXXX-XXXX-XXXX-XXXX`: 15 random characters and a check character.
    pub codes: Vec<String>,
}

/// The domain series of a request body, validated.
pub fn series_from(body: CouponSeriesBody) -> Result<CouponSeries, CoreError> {
    let series = CouponSeries {
        series_id: body.id,
        promotion_id: body.promotion,
        single_use: body.single_use,
        valid_from: local_time(&body.valid_from, "valid_from")?,
        valid_to: local_time(&body.valid_to, "valid_to")?,
    };
    series.validate()?;
    Ok(series)
}

pub fn series_out(series: &CouponSeries) -> CouponSeriesOut {
    let local =
        |t: Option<chrono::NaiveDateTime>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
    CouponSeriesOut {
        id: series.series_id.clone(),
        promotion: series.promotion_id.clone(),
        single_use: series.single_use,
        valid_from: local(series.valid_from),
        valid_to: local(series.valid_to),
    }
}
