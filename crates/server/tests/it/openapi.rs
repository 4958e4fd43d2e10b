//! The committed OpenAPI document must match the generated one.

#[test]
fn openapi_document_matches_committed_file() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/tessera.json");
    let generated = format!("{}\n", tessera_server::openapi::document());
    assert!(generated.len() > 100, "the generated document is empty");
    if std::env::var("TESSERA_UPDATE_OPENAPI").as_deref() == Ok("1") {
        std::fs::write(path, &generated).expect("write openapi/tessera.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/tessera.json is out of date with the code; run `TESSERA_UPDATE_OPENAPI=1 cargo test -p tessera-server openapi` and commit the result"
    );
}
