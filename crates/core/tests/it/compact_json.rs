//! `compact_json` writes what `serde_json::to_vec` writes, byte for byte, and fails
//! where it fails: tables of tricky values, then arbitrary `Value` trees.

use proptest::prelude::*;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt;
use tessera_core::compact_json::{self, CompactJsonError};

/// Both writers agree on `value`: the same bytes, or both refuse it with the same
/// message.
#[track_caller]
fn same<T: Serialize + ?Sized + fmt::Debug>(value: &T) {
    let expected = serde_json::to_vec(value).map_err(|e| e.to_string());
    let actual = compact_json::to_vec(value).map_err(|e| e.to_string());
    assert_eq!(
        actual.as_ref().map(|b| String::from_utf8_lossy(b)),
        expected.as_ref().map(|b| String::from_utf8_lossy(b)),
        "{value:?}"
    );
    assert_eq!(actual, expected, "{value:?}");
}

/// Both writers refuse `value`, with serde_json's message.
#[track_caller]
fn refused<T: Serialize + ?Sized + fmt::Debug>(value: &T) -> CompactJsonError {
    same(value);
    compact_json::to_vec(value).unwrap_err()
}

#[test]
fn strings_escape_what_serde_json_escapes() {
    for byte in 0u8..0x80 {
        same(&char::from(byte).to_string());
        same(&char::from(byte));
    }
    let controls: String = (0u8..0x20).map(char::from).collect();
    same(&controls);
    for text in [
        "",
        "plain",
        "\"",
        "\\",
        "\"quoted\" and \\back\\slashed\\",
        "a/b</script>",
        "\u{7f}",
        "é ñ ü ß",
        "日本語のテキスト",
        "😀 emoji 👨‍👩‍👧 family",
        "mixed \u{1}é\n\"😀\"\t\\/\u{1f}",
        "\u{2028}\u{2029}\u{feff}",
        "\u{10ffff}",
    ] {
        same(text);
        same(&text.to_string());
    }
}

#[test]
fn an_escape_at_every_position_of_a_long_string_is_found() {
    for escaped in ['"', '\\', '\n', '\u{0}', '\u{1f}'] {
        for len in [1usize, 7, 8, 9, 15, 16, 17, 31, 40] {
            for at in 0..len {
                let text: String = (0..len)
                    .map(|idx| if idx == at { escaped } else { 'x' })
                    .collect();
                same(&text);
                // Non-ASCII around it, so runs end next to multi-byte chars.
                same(&text.replace('x', "é"));
            }
        }
    }
    // Bytes just outside the escaped ranges, in every lane of a word.
    for near in ['\u{20}', '!', '#', '[', ']', '\u{7f}', '\u{80}', 'ÿ'] {
        same(&near.to_string().repeat(19));
    }
}

#[test]
fn clean_strings_of_every_length_are_copied_whole() {
    for len in 0..40 {
        same(&"k".repeat(len));
        same(&"é".repeat(len));
        same(&"😀".repeat(len));
        same(&"a~ÿ\u{7f}".repeat(len));
    }
}

#[test]
fn integers_at_their_limits() {
    same(&[i8::MIN, i8::MAX, 0, -1]);
    same(&[i16::MIN, i16::MAX]);
    same(&[i32::MIN, i32::MAX]);
    same(&[i64::MIN, i64::MAX, 0, -1, 1]);
    same(&[u8::MAX, 0]);
    same(&[u16::MAX]);
    same(&[u32::MAX]);
    same(&[u64::MAX, 0, 1, 10, 99, 100]);
    same(&[i128::MIN, i128::MAX]);
    same(&[u128::MAX, 0]);
}

#[test]
fn floats_as_serde_json_writes_them() {
    for value in [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        0.1,
        0.532,
        123_456_789.123_456_79,
        1e15,
        1e16,
        1e17,
        1e21,
        1e22,
        1e-5,
        1e-6,
        1e-7,
        1e300,
        -1e300,
        1e-300,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        f64::MIN,
        f64::EPSILON,
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        same(&value);
        same(&(value as f32));
    }
    same(&[
        0.1f32,
        16777216.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-45,
        f32::NAN,
    ]);
}

#[test]
fn numbers_and_values_of_serde_json() {
    same(&serde_json::Number::from(u64::MAX));
    same(&serde_json::Number::from(i64::MIN));
    same(&serde_json::Number::from_f64(2.5).unwrap());
    same(&"0.532".parse::<serde_json::Number>().unwrap());
    same(&json!({
        "z": [1, -1, 1.0, -0.0, 1e300, u64::MAX, i64::MIN, true, false, null],
        "a": {"nested": {"deeper": [[], {}, [{}], ""]}},
        "é": "😀\n",
        "": 0,
        "\u{0}\"\\": "key needs escapes",
    }));
    same(&Value::Null);
    same(&json!([]));
    same(&json!({}));
}

#[test]
fn raw_values_are_copied() {
    let raw = serde_json::value::RawValue::from_string(r#"{ "kept" : [1, 2 ] }"#.into()).unwrap();
    same(&raw);
    same(&vec![raw.clone(), raw]);
}

#[test]
fn options_units_and_newtypes() {
    #[derive(Debug, Serialize)]
    struct Unit;
    #[derive(Debug, Serialize)]
    struct Meters(i64);
    #[derive(Debug, Serialize)]
    struct Pair(i64, Option<String>);
    same(&None::<i32>);
    same(&Some(3));
    same(&Some(None::<i32>));
    same(&Some(Some(Some("deep"))));
    same(&vec![None, Some(None), Some(Some(1))]);
    same(&());
    same(&Unit);
    same(&Meters(-5));
    same(&Pair(1, None));
    same(&(1, "two", 3.5, ()));
    same(&((), ((),), [(); 0]));
}

#[test]
fn enums_of_every_kind() {
    #[derive(Debug, Serialize)]
    enum Plain {
        Unit,
        Newtype(i64),
        Tuple(i64, String),
        EmptyTuple(),
        Struct {
            a: i64,
            b: Option<bool>,
        },
        EmptyStruct {},
        #[serde(rename = "re\"named\n")]
        Renamed,
    }
    #[derive(Debug, Serialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Internal {
        PercentOff { percent: i64 },
        Gift,
        Wrapped(BTreeMap<String, i64>),
    }
    #[derive(Debug, Serialize)]
    #[serde(tag = "t", content = "c")]
    enum Adjacent {
        A(i64),
        B,
    }
    #[derive(Debug, Serialize)]
    #[serde(untagged)]
    enum Untagged {
        Number(i64),
        Text(String),
        Nothing,
    }
    same(&[
        Plain::Unit,
        Plain::Newtype(7),
        Plain::Tuple(1, "x".into()),
        Plain::EmptyTuple(),
        Plain::Struct { a: 1, b: None },
        Plain::EmptyStruct {},
        Plain::Renamed,
    ]);
    same(&vec![
        Internal::PercentOff { percent: 10 },
        Internal::Gift,
        Internal::Wrapped(BTreeMap::from([("k".into(), 1)])),
    ]);
    same(&[Adjacent::A(1), Adjacent::B]);
    same(&[
        Untagged::Number(1),
        Untagged::Text("t".into()),
        Untagged::Nothing,
    ]);
}

#[test]
fn structs_with_skipped_and_flattened_fields() {
    #[derive(Debug, Serialize)]
    struct Inner {
        x: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        y: Option<i64>,
    }
    #[derive(Debug, Serialize)]
    struct Outer {
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
        #[serde(skip)]
        _hidden: i64,
        #[serde(rename = "renamed key")]
        named: String,
        #[serde(flatten)]
        inner: Inner,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    }
    #[derive(Debug, Serialize)]
    struct AllSkipped {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<i64>,
    }
    #[derive(Debug, Serialize)]
    struct Empty {}
    for version in [None, Some(2)] {
        for y in [None, Some(-1)] {
            same(&Outer {
                version,
                _hidden: 9,
                named: "n".into(),
                inner: Inner { x: 1, y },
                extra: BTreeMap::from([("e".into(), json!([1]))]),
            });
        }
    }
    same(&AllSkipped { a: None });
    same(&AllSkipped { a: Some(1) });
    same(&Empty {});
}

/// A map written entry by entry from pairs, so keys of any type can be tried.
#[derive(Debug)]
struct Pairs<K, V>(Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Pairs<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[test]
fn map_keys_quoted_as_serde_json_quotes_them() {
    #[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Kind {
        Gold,
        #[serde(rename = "sil\"ver")]
        Silver,
    }
    #[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
    struct Sku(String);
    same(&BTreeMap::from([
        (i64::MIN, 1),
        (-1, 2),
        (0, 3),
        (i64::MAX, 4),
    ]));
    same(&BTreeMap::from([(u64::MAX, "max"), (0, "zero")]));
    same(&BTreeMap::from([(i8::MIN, 1)]));
    same(&BTreeMap::from([(u128::MAX, 1), (0, 2)]));
    same(&BTreeMap::from([(i128::MIN, 1)]));
    same(&BTreeMap::from([(true, 1), (false, 0)]));
    same(&BTreeMap::from([('a', 1), ('"', 2), ('\n', 3), ('😀', 4)]));
    same(&BTreeMap::from([(Kind::Gold, 1), (Kind::Silver, 2)]));
    same(&BTreeMap::from([(Sku("A-1".into()), 1)]));
    same(&BTreeMap::from([(Some("k"), 1)]));
    same(&BTreeMap::<String, i64>::new());
    same(&Pairs(vec![(1.5f64, 1), (-0.0, 2), (1e300, 3)]));
    same(&Pairs(vec![(0.1f32, 1)]));
    same(&Pairs(vec![(
        chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap(),
        1,
    )]));
}

#[test]
fn unsupported_map_keys_are_refused_as_serde_json_refuses_them() {
    #[derive(Debug, Serialize)]
    enum Variant {
        Newtype(i64),
        Tuple(i64, i64),
        Struct { a: i64 },
    }
    #[derive(Debug, Serialize)]
    struct Unit;
    #[derive(Debug, Serialize)]
    struct Fields {
        a: i64,
    }
    #[derive(Debug)]
    struct Bytes;
    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(b"ab")
        }
    }
    let key = CompactJsonError::KeyMustBeAString;
    assert_eq!(refused(&Pairs(vec![(None::<i64>, 1)])), key);
    assert_eq!(refused(&Pairs(vec![((), 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Unit, 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Bytes, 1)])), key);
    assert_eq!(refused(&Pairs(vec![(vec![1], 1)])), key);
    assert_eq!(refused(&Pairs(vec![((1, 2), 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Fields { a: 1 }, 1)])), key);
    assert_eq!(refused(&Pairs(vec![(BTreeMap::from([(1, 1)]), 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Variant::Newtype(1), 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Variant::Tuple(1, 2), 1)])), key);
    assert_eq!(refused(&Pairs(vec![(Variant::Struct { a: 1 }, 1)])), key);
    let raw = serde_json::value::RawValue::from_string("1".into()).unwrap();
    assert_eq!(refused(&Pairs(vec![(raw, 1)])), key);
    let finite = CompactJsonError::FloatKeyMustBeFinite;
    assert_eq!(refused(&Pairs(vec![(f64::NAN, 1)])), finite);
    assert_eq!(refused(&Pairs(vec![(f64::INFINITY, 1)])), finite);
    assert_eq!(refused(&Pairs(vec![(f32::NEG_INFINITY, 1)])), finite);
    // Refused inside a document too.
    refused(&vec![Some(Pairs(vec![((), 1)]))]);
}

#[test]
fn bytes_are_an_array_of_numbers() {
    #[derive(Debug)]
    struct Bytes(Vec<u8>);
    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_bytes(&self.0)
        }
    }
    same(&Bytes(vec![]));
    same(&Bytes(vec![0]));
    same(&Bytes(vec![0, 1, 127, 255]));
}

/// Announces a length and then writes another number of members, which serde_json
/// does not check: a length of 0 closes the compound at once.
#[derive(Debug)]
struct Misannounced {
    announced: usize,
    written: usize,
    map: bool,
}

impl Serialize for Misannounced {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.map {
            let mut map = serializer.serialize_map(Some(self.announced))?;
            for idx in 0..self.written {
                map.serialize_entry(&idx, &idx)?;
            }
            map.end()
        } else {
            let mut seq = serializer.serialize_seq(Some(self.announced))?;
            for idx in 0..self.written {
                seq.serialize_element(&idx)?;
            }
            seq.end()
        }
    }
}

#[test]
fn announced_lengths_are_trusted_as_serde_json_trusts_them() {
    for map in [false, true] {
        for (announced, written) in [(0, 0), (0, 2), (1, 0), (3, 1)] {
            same(&Misannounced {
                announced,
                written,
                map,
            });
        }
    }
}

#[test]
fn displayed_strings_are_escaped() {
    struct Shown(&'static str);
    impl fmt::Display for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "<{}|{}>", self.0, self.0.len())
        }
    }
    impl fmt::Debug for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Display::fmt(self, f)
        }
    }
    impl Serialize for Shown {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_str(self)
        }
    }
    same(&Shown("plain"));
    same(&Shown("\"quoted\"\n\\😀\u{1}"));
    same(&BTreeMap::from([("k", Shown("v\t"))]));
    same(&Pairs(vec![(Shown("as key\""), 1)]));
    let at = chrono::DateTime::parse_from_rfc3339("2026-03-10T12:00:00.123+03:00").unwrap();
    same(&at);
    same(&at.with_timezone(&chrono::Utc));
}

#[test]
fn errors_raised_by_a_value_keep_their_message() {
    #[derive(Debug)]
    struct Failing;
    impl Serialize for Failing {
        fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no \"way\""))
        }
    }
    assert_eq!(
        refused(&vec![Some(Failing)]),
        CompactJsonError::Custom(Box::new("no \"way\"".into()))
    );
}

#[test]
fn write_appends_and_to_string_is_to_vec() {
    let mut out = b"prefix:".to_vec();
    compact_json::write(&mut out, &json!({"a": [1, "b"]})).unwrap();
    assert_eq!(out, br#"prefix:{"a":[1,"b"]}"#);
    let value = json!({"k": "é\n"});
    assert_eq!(
        compact_json::to_string(&value).unwrap().into_bytes(),
        compact_json::to_vec(&value).unwrap()
    );
    assert_eq!(
        compact_json::to_string(&value).unwrap(),
        serde_json::to_string(&value).unwrap()
    );
}

/// Text drawn mostly from characters that need care: quotes, backslashes, slashes,
/// every control character, DEL, and multi-byte characters of each length.
fn tricky_text() -> impl Strategy<Value = String> {
    let tricky = prop_oneof![
        4 => prop::sample::select(vec![
            '"', '\\', '/', '\u{7f}', 'é', '€', '😀', '\u{2028}', 'a', 'Z', ' ', '0',
        ]),
        3 => (0u8..0x20).prop_map(char::from),
        2 => any::<char>(),
    ];
    prop::collection::vec(tricky, 0..24).prop_map(String::from_iter)
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (-1_000_000i64..1_000_000).prop_map(|n| Value::from(n as f64 / 1000.0)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        tricky_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(tricky_text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_are_written_as_serde_json_writes_them(value in value()) {
        prop_assert_eq!(compact_json::to_vec(&value).unwrap(), serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn arbitrary_floats_and_texts_are_written_as_serde_json_writes_them(
        doubles in prop::collection::vec(any::<f64>(), 0..8),
        singles in prop::collection::vec(any::<f32>(), 0..8),
        texts in prop::collection::vec(tricky_text(), 0..8),
        keys in prop::collection::btree_map(any::<i64>(), tricky_text(), 0..4),
    ) {
        let document = (&doubles, &singles, &texts, &keys);
        prop_assert_eq!(compact_json::to_vec(&document).unwrap(), serde_json::to_vec(&document).unwrap());
    }
}
