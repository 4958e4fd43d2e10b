//! Request bodies: strict JSON with errors that name the field, and a canonical hash
//! of the body for idempotency checks.
//!
//! No `serde_json::Value` is built for a body that is accepted. One pass over the bytes
//! writes its canonical form (keys sorted, no spaces), byte for byte what serialising
//! the body's `Value` gives, so the hash is the one earlier versions computed and
//! stored: a retry sent across an upgrade still matches its commit. A second pass
//! deserialises the typed body straight from the bytes. Only a body that pass refuses
//! takes the old way through a `Value`, so what it is refused for (the first error in
//! key order, with its field path) and what is accepted (a repeated key: the last one
//! counts) stay exactly as they were.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use tessera_core::ErrorCode;

/// The largest body accepted (a receipt of 1000 lines fits many times over).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A parsed JSON body and the hash of its canonical form (keys sorted, no spaces), so
/// that a retry that re-serialises the same data hashes the same.
pub struct Body<T> {
    pub value: T,
    pub hash: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse(&read_bytes(request, state).await?)
    }
}

/// A parsed JSON body for a route that writes nothing, so keeps no idempotency hash
/// (calculate, preview): the same parsing and errors as [`Body`], without the
/// canonicalising pass.
pub struct Unhashed<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Unhashed<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse_unhashed(&read_bytes(request, state).await?).map(Unhashed)
    }
}

/// The request's body, at most [`MAX_BODY_BYTES`].
async fn read_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|_| {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            format!("the body is over {MAX_BODY_BYTES} bytes or unreadable"),
        )
    })
}

/// An empty (or all-whitespace) body reads as `{}`.
fn or_empty_object(bytes: &[u8]) -> &[u8] {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    }
}

/// Parses a body without hashing it; an empty body reads as `{}`.
pub fn parse_unhashed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes = or_empty_object(bytes);
    match typed(bytes) {
        Ok(value) => Ok(value),
        Err(_) => slow::<T>(bytes),
    }
}

/// Parses a body; an empty body reads as `{}`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Body<T>, ApiError> {
    let bytes = or_empty_object(bytes);
    // Refuses what is not one JSON document, exactly as parsing a `Value` would.
    let canonical = canonical(bytes).map_err(malformed)?;
    let hash = tessera_core::digest::sha256_hex(&canonical);
    let value = match typed(bytes) {
        Ok(value) => value,
        Err(_) => slow::<T>(bytes)?,
    };
    Ok(Body { value, hash })
}

/// The idempotency hash of a body without the member at `path` (an object path such
/// as `["customer", "code"]`), for a body that has it: a one-time code changes between
/// a request and its retry, so it must not make the retry a different request. `None`
/// when the body has no such member (its hash is then [`parse`]'s). Builds a `Value`,
/// so callers ask only for bodies that carry the member.
pub fn hash_without(bytes: &[u8], path: &[&str]) -> Result<Option<String>, ApiError> {
    let mut document: serde_json::Value =
        serde_json::from_slice(or_empty_object(bytes)).map_err(malformed)?;
    let Some((last, parents)) = path.split_last() else {
        return Ok(None);
    };
    let removed = parents
        .iter()
        .try_fold(&mut document, |node, key| node.get_mut(*key))
        .and_then(|node| node.as_object_mut())
        .and_then(|object| object.remove(*last));
    if removed.is_none() {
        return Ok(None);
    }
    // A `Value` serialises with sorted keys and no spaces: the canonical form.
    let canonical = serde_json::to_vec(&document).map_err(malformed)?;
    Ok(Some(tessera_core::digest::sha256_hex(&canonical)))
}

/// The typed body straight from the bytes. Without field paths: a refused body is
/// judged again by [`slow`], which names the field (tracking paths here would double
/// the cost of every body for the sake of the few refused).
fn typed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A body the typed pass refused, judged through a `Value` as it always was: its
/// fields are visited in key order, so the error named is the first in that order, and
/// a repeated key keeps its last value (the typed pass refuses a repeated field).
fn slow<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(malformed)?;
    serde_path_to_error::deserialize::<_, T>(value).map_err(field_error)
}

fn malformed(error: serde_json::Error) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedJson,
        format!("the body is not valid JSON: {error}"),
    )
}

fn field_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = error.path().to_string();
    let inner = error.into_inner().to_string();
    let (code, field) = if let Some(rest) = inner.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        (ErrorCode::UnknownField, join(&path, name))
    } else if let Some(rest) = inner.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        (ErrorCode::MissingField, join(&path, name))
    } else {
        (ErrorCode::InvalidField, path)
    };
    let message = inner
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string();
    ApiError::field(code, field, message)
}

fn join(path: &str, name: &str) -> String {
    if path == name || path.ends_with(&format!(".{name}")) {
        path.to_string()
    } else if path.is_empty() || path == "." {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The canonical form of one JSON document: what serialising its `serde_json::Value`
/// gives (members sorted by key, a repeated key's last value, no whitespace, strings
/// and numbers written by serde_json), without building the `Value`.
fn canonical(bytes: &[u8]) -> Result<Vec<u8>, serde_json::Error> {
    let mut writer = Writer {
        out: Vec::with_capacity(bytes.len()),
        members: Vec::new(),
        moved: Vec::new(),
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Canonical(&mut writer).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(writer.out)
}

/// Where the canonical form is written, with the scratch space objects are sorted in.
struct Writer<'de> {
    out: Vec<u8>,
    /// The members of the objects being written, innermost last.
    members: Vec<Member<'de>>,
    /// An object's members as written, while they are copied back sorted.
    moved: Vec<u8>,
}

/// A member of an object: its key and where it (`"key":value`) was written in `out`.
struct Member<'de> {
    key: Cow<'de, str>,
    start: usize,
    end: usize,
}

impl Writer<'_> {
    fn write<V: serde::Serialize + ?Sized>(&mut self, value: &V) -> Result<(), String> {
        serde_json::to_writer(&mut self.out, value).map_err(|e| e.to_string())
    }

    /// A string as serde_json writes it. One `borrowed` from the body had no escapes
    /// there, so it holds nothing serde_json would escape (a quote, a backslash or a
    /// control character can only appear escaped) and is copied as it is.
    fn write_str(&mut self, text: &str, borrowed: bool) -> Result<(), String> {
        if !borrowed {
            return self.write(text);
        }
        self.out.push(b'"');
        self.out.extend_from_slice(text.as_bytes());
        self.out.push(b'"');
        Ok(())
    }

    /// Rewrites the members of the object from `members[base..]`, written from
    /// `out[from..]`, sorted by key; of a repeated key only the last one is kept.
    fn sort_members(&mut self, base: usize, from: usize) {
        let Writer {
            out,
            members,
            moved,
        } = self;
        let written = members.get_mut(base..).unwrap_or_default();
        written.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(a.start.cmp(&b.start)));
        moved.clear();
        moved.extend_from_slice(out.get(from..).unwrap_or_default());
        out.truncate(from);
        let mut first = true;
        for (idx, member) in written.iter().enumerate() {
            if written
                .get(idx + 1)
                .is_some_and(|next| next.key == member.key)
            {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            let text = moved.get(member.start - from..member.end - from);
            out.extend_from_slice(text.unwrap_or_default());
        }
    }
}

/// Writes the canonical form of the next JSON value.
struct Canonical<'w, 'de>(&'w mut Writer<'de>);

impl<'de> DeserializeSeed<'de> for Canonical<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<(), E> {
        self.0.write(&value).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<(), E> {
        self.0.write(&value).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<(), E> {
        self.0.write(&value).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<(), E> {
        // A `Value` keeps no NaN or infinity (the parser never makes them anyway).
        match serde_json::Number::from_f64(value) {
            Some(number) => self.0.write(&number),
            None => self.0.write(&()),
        }
        .map_err(E::custom)
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<(), E> {
        self.0.write_str(value, true).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        self.0.write(value).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.write(&()).map_err(E::custom)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.out.push(b'[');
        let mut first = true;
        loop {
            let at = self.0.out.len();
            if !first {
                self.0.out.push(b',');
            }
            if seq.next_element_seed(Canonical(self.0))?.is_none() {
                // No element after that comma.
                self.0.out.truncate(at);
                break;
            }
            first = false;
        }
        self.0.out.push(b']');
        Ok(())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let base = self.0.members.len();
        self.0.out.push(b'{');
        let from = self.0.out.len();
        // Members are written as they come; only keys out of order need a second copy.
        let mut ascending = true;
        while let Some(key) = map.next_key_seed(Key)? {
            if let Some(last) = self.0.members.get(base..).and_then(<[Member]>::last) {
                ascending &= last.key < key;
                self.0.out.push(b',');
            }
            let start = self.0.out.len();
            let borrowed = matches!(key, Cow::Borrowed(_));
            self.0
                .write_str(&key, borrowed)
                .map_err(de::Error::custom)?;
            self.0.out.push(b':');
            map.next_value_seed(Canonical(self.0))?;
            let end = self.0.out.len();
            self.0.members.push(Member { key, start, end });
        }
        if !ascending {
            self.0.sort_members(base, from);
        }
        self.0.out.push(b'}');
        self.0.members.truncate(base);
        Ok(())
    }
}

/// An object key, borrowed from the body unless it had escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value.to_string()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(value))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use tessera_api::{CancelBody, PromotionBody, ReceiptBody};

    const RECEIPT: &str = r#"{"receipt_id":"R-1","store_id":"msk-1","terminal_id":"T1",
        "at":"2026-03-10T12:00:00+03:00","customer":{"card":"70010001"},
        "lines":[{"line":1,"sku":"MILK-1","qty":1,"price":10000},
                 {"line":2,"sku":"APPLE-1","qty":0.532,"price":25000}],
        "redeem_points":"max","coupons":["SPRING10"]}"#;

    fn hash_of<T: DeserializeOwned>(body: &str) -> String {
        match parse::<T>(body.as_bytes()) {
            Ok(body) => body.hash,
            Err(error) => panic!("{body}: {:?}", error.detail()),
        }
    }

    fn refused<T: DeserializeOwned>(body: &str) -> (String, Option<String>) {
        match parse::<T>(body.as_bytes()) {
            Ok(_) => panic!("{body} was accepted"),
            Err(error) => {
                let detail = error.detail();
                (detail.code, detail.field)
            }
        }
    }

    /// What the hash was before: the canonical serialisation of the body's `Value`.
    fn value_hash(body: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        tessera_core::digest::sha256_hex(&serde_json::to_vec(&value).unwrap())
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_hash() {
        let reordered = r#"{ "coupons" : [ "SPRING10" ], "redeem_points": "max",
            "lines": [ {"price": 10000, "qty": 1, "sku": "MILK-1", "line": 1},
                       {"sku": "APPLE-1", "price": 25000, "line": 2, "qty": 0.532} ],
            "customer": {"card": "70010001"}, "at": "2026-03-10T12:00:00+03:00",
            "terminal_id": "T1", "store_id": "msk-1", "receipt_id": "R-1" }"#;
        let compact: serde_json::Value = serde_json::from_str(RECEIPT).unwrap();
        let compact = serde_json::to_string(&compact).unwrap();
        let escaped = RECEIPT.replace("MILK-1", "MIL\\u004b-1");
        let hash = hash_of::<ReceiptBody>(RECEIPT);
        assert_eq!(hash_of::<ReceiptBody>(reordered), hash);
        assert_eq!(hash_of::<ReceiptBody>(&compact), hash);
        assert_eq!(hash_of::<ReceiptBody>(&escaped), hash);
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn different_data_hashes_differently() {
        let hash = hash_of::<ReceiptBody>(RECEIPT);
        for other in [
            RECEIPT.replace("\"price\":10000", "\"price\":10001"),
            RECEIPT.replace("\"qty\":1,", "\"qty\":1.0,"),
            RECEIPT.replace("\"qty\":1,", "\"qty\":2,"),
            RECEIPT.replace("\"R-1\"", "\"R-2\""),
            RECEIPT.replace("\"max\"", "0"),
            RECEIPT.replace("[\"SPRING10\"]", "[]"),
            RECEIPT.replace(",\"coupons\":[\"SPRING10\"]", ""),
            RECEIPT.replace("{\"card\":\"70010001\"}", "null"),
            RECEIPT.replace(
                "\"redeem_points\"",
                "\"expect\":{\"to_pay\":1},\"redeem_points\"",
            ),
        ] {
            assert_ne!(hash_of::<ReceiptBody>(&other), hash, "{other}");
        }
    }

    #[test]
    fn the_hash_is_the_canonical_value_hash_of_earlier_versions() {
        let promotion = r#"{"name":"Ж \"кофе\"\t\u00e9\ud83d\ude00","priority":-3,
            "effects":[{"type":"discount_matrix","rows":"region","columns":"brand",
              "percent":{"south":{"b":1.5,"a":2},"north":{"a":1e2,"b":-0}}},
              {"items":{"any":[{"sku":["A"]},{"not":{"tag":["x"]}}]},"type":"percent_off",
               "percent":12.50}],
            "conditions":{"min_amount":9223372036854775807,"items":[]},"enabled":true}"#;
        assert_eq!(hash_of::<PromotionBody>(promotion), value_hash(promotion));
        assert_eq!(hash_of::<ReceiptBody>(RECEIPT), value_hash(RECEIPT));
        assert_eq!(hash_of::<CancelBody>(" \n"), value_hash("{}"));
        for document in [
            "{}",
            "[]",
            "null",
            "[1,-1,1.0,-0.0,1e300,123456789012345678901234567890,true,false,null]",
            r#"{"b":{"d":[{"z":1,"a":[]},{}],"c":""},"a":{"\u0062":1,"b":2},"":0}"#,
            r#"{"a":1,"a":{"y":1,"x":2},"b":[{"k":1,"k":2}]}"#,
            r#"{"é":1,"e":2,"z":3,"E":4,"\u0000":"\u001f\u007f\\/\""}"#,
        ] {
            assert_eq!(
                String::from_utf8(canonical(document.as_bytes()).unwrap()).unwrap(),
                serde_json::to_string(
                    &serde_json::from_str::<serde_json::Value>(document).unwrap()
                )
                .unwrap(),
                "{document}"
            );
        }
    }

    /// A random JSON text: nested, with repeated and escaped keys, every kind of
    /// number, and whitespace anywhere.
    fn random_json(rng: &mut rand::rngs::SmallRng, depth: u32, out: &mut String) {
        use rand::Rng;
        const KEYS: [&str; 8] = ["a", "b", "ab", "B", "é", "\\u0061", "\\n", ""];
        const SCALARS: [&str; 14] = [
            "0",
            "-0",
            "17",
            "-17",
            "1.5",
            "-2.50",
            "1e3",
            "3E-2",
            "123456789.123456789",
            "18446744073709551616",
            "true",
            "null",
            "\"x\\ty\"",
            "\"\\ud83d\\ude00 é\"",
        ];
        let space = |rng: &mut rand::rngs::SmallRng, out: &mut String| {
            if rng.random_bool(0.3) {
                out.push_str([" ", "\n", "\t ", "\r\n  "][rng.random_range(0..4)]);
            }
        };
        space(rng, out);
        match if depth == 0 {
            0
        } else {
            rng.random_range(0..4)
        } {
            0 | 1 => out.push_str(SCALARS[rng.random_range(0..SCALARS.len())]),
            2 => {
                out.push('[');
                for n in 0..rng.random_range(0..4) {
                    if n > 0 {
                        out.push(',');
                    }
                    random_json(rng, depth - 1, out);
                }
                space(rng, out);
                out.push(']');
            }
            _ => {
                out.push('{');
                for n in 0..rng.random_range(0..6) {
                    if n > 0 {
                        out.push(',');
                    }
                    space(rng, out);
                    out.push('"');
                    out.push_str(KEYS[rng.random_range(0..KEYS.len())]);
                    out.push('"');
                    space(rng, out);
                    out.push(':');
                    random_json(rng, depth - 1, out);
                }
                space(rng, out);
                out.push('}');
            }
        }
        space(rng, out);
    }

    #[test]
    fn random_documents_canonicalise_as_their_value_does() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let mut document = String::new();
            random_json(&mut rng, 4, &mut document);
            let value = serde_json::from_str::<serde_json::Value>(&document)
                .map(|value| serde_json::to_vec(&value).unwrap())
                .map_err(|e| e.to_string());
            let canonical = canonical(document.as_bytes()).map_err(|e| e.to_string());
            assert_eq!(canonical, value, "{document}");
        }
    }

    #[test]
    fn malformed_json_is_refused_as_such() {
        for body in [
            "{\"receipt_id\": ",
            "not json at all",
            "[1,2",
            "{\"receipt_id\": 5, \"store_id\": }",
            "{\"lines\": 5} trailing",
            "{\"receipt_id\": \"a\\x\"}",
            "{\"lines\": [{\"price\": 1e400}]}",
        ] {
            let (code, field) = refused::<ReceiptBody>(body);
            assert_eq!((code.as_str(), field), ("malformed_json", None), "{body}");
        }
        let Err(error) = parse::<ReceiptBody>(b"{\"receipt_id\": ") else {
            panic!("accepted")
        };
        assert!(
            error
                .detail()
                .message
                .starts_with("the body is not valid JSON: EOF while parsing"),
            "{:?}",
            error.detail()
        );
    }

    #[test]
    fn an_unknown_field_is_named_by_its_path() {
        let body = RECEIPT.replace(
            "\"sku\":\"APPLE-1\"",
            "\"sku\":\"APPLE-1\",\"colour\":\"red\"",
        );
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("unknown_field".into(), Some("lines[1].colour".into()))
        );
        let body = RECEIPT.replace("\"receipt_id\"", "\"discount_code\":\"X\",\"receipt_id\"");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("unknown_field".into(), Some("discount_code".into()))
        );
        let body = RECEIPT.replace("\"card\"", "\"cardd\"");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("unknown_field".into(), Some("customer.cardd".into()))
        );
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        let body = RECEIPT.replace("\"store_id\":\"msk-1\",", "");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("missing_field".into(), Some("store_id".into()))
        );
        let body = RECEIPT.replace(",\"price\":25000", "");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("missing_field".into(), Some("lines[1].price".into()))
        );
    }

    #[test]
    fn a_wrong_type_is_named_by_its_path() {
        let body = RECEIPT.replace("\"price\":25000", "\"price\":\"abc\"");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("invalid_field".into(), Some("lines[1].price".into()))
        );
        let body = RECEIPT.replace("\"line\":2", "\"line\":-2");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("invalid_field".into(), Some("lines[1].line".into()))
        );
        // Of two errors the first in key order is named, as it always was (`receipt_id`
        // comes first in the body, `at` first in key order).
        let body = RECEIPT
            .replace("\"R-1\"", "5")
            .replace("\"2026-03-10T12:00:00+03:00\"", "6");
        assert_eq!(
            refused::<ReceiptBody>(&body),
            ("invalid_field".into(), Some("at".into()))
        );
        let Err(error) = parse::<ReceiptBody>(body.as_bytes()) else {
            panic!("accepted")
        };
        assert!(!error.detail().message.contains(" at line "));
    }

    #[test]
    fn an_empty_body_reads_as_an_empty_object() {
        for body in ["", " \r\n\t"] {
            let parsed = parse::<CancelBody>(body.as_bytes()).unwrap();
            assert!(parsed.value.at.is_none() && parsed.value.terminal_id.is_none());
            assert_eq!(parsed.hash, hash_of::<CancelBody>("{}"));
            assert_eq!(
                refused::<ReceiptBody>(body),
                ("missing_field".into(), Some("receipt_id".into()))
            );
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let body = RECEIPT.replace(
            "\"store_id\":\"msk-1\"",
            "\"store_id\":\"x\",\"store_id\":\"msk-1\"",
        );
        let parsed = parse::<ReceiptBody>(body.as_bytes()).unwrap();
        assert_eq!(parsed.value.store_id, "msk-1");
        assert_eq!(parsed.hash, hash_of::<ReceiptBody>(RECEIPT));
    }

    #[test]
    fn unhashed_bodies_parse_and_refuse_exactly_like_hashed_ones() {
        let hashed = parse::<ReceiptBody>(RECEIPT.as_bytes()).unwrap().value;
        let unhashed = parse_unhashed::<ReceiptBody>(RECEIPT.as_bytes()).unwrap();
        assert_eq!(
            serde_json::to_value(&hashed).unwrap(),
            serde_json::to_value(&unhashed).unwrap()
        );
        for bad in [
            r#"{"receipt_id":"R-1""#,
            r#"{"receipt_id":"R-1"} trailing"#,
            r#"{"receipt_id":"R-1","store_id":"s","terminal_id":"T","at":"2026-03-10T12:00:00Z","lines":[],"bogus":1}"#,
            r#"{"receipt_id":"R-1","store_id":"s","terminal_id":"T","at":"2026-03-10T12:00:00Z"}"#,
            r#"{"receipt_id":7,"store_id":"s","terminal_id":"T","at":"2026-03-10T12:00:00Z","lines":[]}"#,
        ] {
            let a = parse::<ReceiptBody>(bad.as_bytes()).err().unwrap().detail();
            let b = parse_unhashed::<ReceiptBody>(bad.as_bytes())
                .err()
                .unwrap()
                .detail();
            assert_eq!(
                (a.code, a.field, a.message),
                (b.code, b.field, b.message),
                "{bad}"
            );
        }
    }
}
