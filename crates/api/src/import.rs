//! The import of customers over HTTP.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How to read and match an imported file.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The system the file comes from (`web`, `old_crm`, `paper`): every value's
    /// provenance and the scope of `source_id`. Required.
    pub source: Option<String>,
    /// `csv` (by header) or `jsonl`; by default from the Content-Type
    /// (`application/x-ndjson`, `application/jsonl` are JSON lines), else CSV.
    pub format: Option<String>,
    /// The country of phones written without one (ISO 3166 alpha-2, default `RU`).
    pub default_country: Option<String>,
    /// How `7/3/1985` reads: `dmy` (default) or `mdy`.
    pub date_order: Option<String>,
    /// Who runs the import, for the history.
    pub actor: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportOut {
    /// Rows read, refused values with their rows (`rejections`), unreadable rows,
    /// unknown columns, the planned counts, withheld values.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    /// What the writes did: `created`, `updated`, `merged`, `candidates`, `skipped`
    /// (`[id, code, message]`).
    #[schema(value_type = Object)]
    pub applied: serde_json::Value,
    /// Phones, cards and external ids left with the customer holding them already.
    #[schema(value_type = Vec<Object>)]
    pub kept_with_holder: serde_json::Value,
    pub seconds_loading: f64,
    pub seconds_planning: f64,
    pub seconds_writing: f64,
}
