//! Normalising contact fields: phones, emails, names, birthdays and gender, as tables
//! of raw values and the canonical form or the reason they are refused; and
//! properties that normalising twice changes nothing.

use chrono::NaiveDate;
use proptest::prelude::*;
use tessera_core::contact::{
    self, Country, DateOrder, Gender, NormalizeRules, Rejection, NAME_MAX_CHARS,
};

fn rules(default_country: Country) -> NormalizeRules {
    NormalizeRules {
        default_country,
        ..NormalizeRules::default()
    }
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

const TODAY: &str = "2026-03-09";

#[test]
fn rules_default_to_russia_and_day_first() {
    let rules = NormalizeRules::default();
    assert_eq!(rules.default_country, Country::Ru);
    assert_eq!(rules.date_order, DateOrder::DayMonthYear);
    assert_eq!(
        serde_json::to_value(rules).unwrap(),
        serde_json::json!({"default_country": "ru", "date_order": "day_month_year"})
    );
}

#[test]
fn rules_read_from_settings() {
    let cases = [
        ("{}", Some(NormalizeRules::default())),
        (
            r#"{"date_order": "month_day_year"}"#,
            Some(NormalizeRules {
                default_country: Country::Ru,
                date_order: DateOrder::MonthDayYear,
            }),
        ),
        (
            r#"{"default_country": "us", "date_order": "month_day_year"}"#,
            Some(NormalizeRules {
                default_country: Country::Us,
                date_order: DateOrder::MonthDayYear,
            }),
        ),
        (r#"{"default_country": "fr"}"#, None),
        (r#"{"date_order": "year_month_day"}"#, None),
        (r#"{"default_country": "ru", "country": "ru"}"#, None),
    ];
    for (json, expected) in cases {
        let parsed = serde_json::from_str::<NormalizeRules>(json).ok();
        assert_eq!(parsed, expected, "{json}");
    }
}

#[test]
fn countries_have_codes_and_calling_codes() {
    let cases = [
        (Country::Ru, "ru", "7"),
        (Country::Kz, "kz", "7"),
        (Country::Us, "us", "1"),
        (Country::Ca, "ca", "1"),
        (Country::Gb, "gb", "44"),
        (Country::De, "de", "49"),
        (Country::Ua, "ua", "380"),
        (Country::By, "by", "375"),
    ];
    assert_eq!(cases.len(), Country::ALL.len());
    for (country, code, calling_code) in cases {
        assert_eq!(country.as_str(), code);
        assert_eq!(country.calling_code(), calling_code);
        assert_eq!(Country::parse(code), Some(country));
        assert_eq!(Country::parse(&code.to_uppercase()), Some(country));
        assert_eq!(
            serde_json::to_value(country).unwrap(),
            serde_json::json!(code)
        );
    }
    assert_eq!(Country::parse("fr"), None);
}

#[test]
fn rejections_have_stable_codes_and_messages() {
    let cases = [
        (Rejection::Empty, "empty"),
        (Rejection::InvalidCharacters, "invalid_characters"),
        (Rejection::TooShort, "too_short"),
        (Rejection::TooLong, "too_long"),
        (Rejection::UnknownFormat, "unknown_format"),
        (Rejection::ImpossibleDate, "impossible_date"),
        (Rejection::OutOfRange, "out_of_range"),
        (Rejection::InFuture, "in_future"),
    ];
    assert_eq!(cases.len(), Rejection::ALL.len());
    let mut messages = std::collections::BTreeSet::new();
    for (rejection, code) in cases {
        assert_eq!(rejection.as_str(), code);
        assert_eq!(Rejection::parse(code), Some(rejection));
        assert_eq!(
            serde_json::to_value(rejection).unwrap(),
            serde_json::json!(code)
        );
        assert_eq!(
            serde_json::from_value::<Rejection>(serde_json::json!(code)).unwrap(),
            rejection
        );
        let message = rejection.message();
        assert_eq!(rejection.to_string(), message);
        assert_eq!(message, message.to_lowercase(), "{code}");
        assert!(!message.is_empty() && !message.ends_with('.'), "{code}");
        assert!(messages.insert(message), "{code} repeats a message");
    }
    assert_eq!(Rejection::parse("Empty"), None);
}

#[test]
fn phones_in_russia() {
    let ru = NormalizeRules::default();
    let cases = [
        ("+7 (916) 123-45-67", "+79161234567"),
        ("+79161234567", "+79161234567"),
        ("8 916 123-45-67", "+79161234567"),
        ("8(916)1234567", "+79161234567"),
        ("8-916-123-45-67", "+79161234567"),
        ("89161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("7 916 123 45 67", "+79161234567"),
        ("9161234567", "+79161234567"),
        ("(916) 123-45-67", "+79161234567"),
        ("007 916 123 45 67", "+79161234567"),
        ("+7.916.123.45.67", "+79161234567"),
        ("\t+7 916 123\u{a0}45 67 ", "+79161234567"),
        ("+7 916 123–45–67", "+79161234567"),
        // St Petersburg: a national number that starts with 8, with and without trunk.
        ("8 (812) 123-45-67", "+78121234567"),
        ("812 123-45-67", "+78121234567"),
        ("8 800 555-35-35", "+78005553535"),
        // Kazakhstan shares +7.
        ("+7 727 123 4567", "+77271234567"),
        // Other countries need + or 00.
        ("+1 (415) 555-0100", "+14155550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("+49 30 12345678", "+493012345678"),
        ("+49 151 23456789", "+4915123456789"),
        ("+380 50 123 4567", "+380501234567"),
        ("+375 29 123-45-67", "+375291234567"),
        ("00375 29 1234567", "+375291234567"),
        // Countries outside the table: E.164 length only.
        ("+81 3-1234-5678", "+81312345678"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("+86 138 0013 8000", "+8613800138000"),
    ];
    for (raw, expected) in cases {
        assert_eq!(
            contact::phone(raw, &ru),
            Ok(expected.to_string()),
            "{raw:?}"
        );
    }
}

#[test]
fn phones_in_other_default_countries() {
    let cases = [
        (Country::Kz, "8 701 123 4567", "+77011234567"),
        (Country::Kz, "7011234567", "+77011234567"),
        (Country::Us, "(415) 555-0100", "+14155550100"),
        (Country::Us, "415.555.0100", "+14155550100"),
        (Country::Us, "1-415-555-0100", "+14155550100"),
        (Country::Ca, "416 555 0199", "+14165550199"),
        (Country::Gb, "07911 123456", "+447911123456"),
        (Country::Gb, "020 7946 0958", "+442079460958"),
        (Country::Gb, "44 20 7946 0958", "+442079460958"),
        (Country::De, "030 12345678", "+493012345678"),
        (Country::De, "0151 23456789", "+4915123456789"),
        (Country::De, "49 30 12345678", "+493012345678"),
        (Country::Ua, "050 123 4567", "+380501234567"),
        (Country::Ua, "380501234567", "+380501234567"),
        (Country::By, "8 029 123-45-67", "+375291234567"),
        (Country::By, "029 1234567", "+375291234567"),
        (Country::By, "291234567", "+375291234567"),
        // + and 00 win over the default country.
        (Country::Us, "+7 916 123-45-67", "+79161234567"),
        (Country::Gb, "00 7 916 123 45 67", "+79161234567"),
    ];
    for (country, raw, expected) in cases {
        assert_eq!(
            contact::phone(raw, &rules(country)),
            Ok(expected.to_string()),
            "{country:?} {raw:?}"
        );
    }
}

#[test]
fn phones_rejected() {
    let ru = NormalizeRules::default();
    let cases = [
        ("", Rejection::Empty),
        ("   ", Rejection::Empty),
        ("+", Rejection::Empty),
        ("( ) -", Rejection::Empty),
        ("+7 916 abc", Rejection::InvalidCharacters),
        ("8-916-123-45-67 доб. 12", Rejection::InvalidCharacters),
        ("+7 916 123 45 67 ext 5", Rejection::InvalidCharacters),
        ("89161234567, 89031234567", Rejection::InvalidCharacters),
        ("89161234567/89031234567", Rejection::InvalidCharacters),
        ("7+9161234567", Rejection::InvalidCharacters),
        ("++79161234567", Rejection::InvalidCharacters),
        ("８９１６１２３４５６７", Rejection::InvalidCharacters),
        ("12345", Rejection::TooShort),
        ("916123456", Rejection::TooShort),
        ("+7 916 123 45 6", Rejection::TooShort),
        ("+44 7911 1234", Rejection::TooShort),
        ("+380 50 123 456", Rejection::TooShort),
        ("+81 3 1234", Rejection::TooShort),
        ("00", Rejection::TooShort),
        ("+7 916 123 45 678", Rejection::TooLong),
        ("891612345678", Rejection::TooLong),
        ("+1 415 555 01000", Rejection::TooLong),
        ("+375 29 123-45-678", Rejection::TooLong),
        ("+86 138 0013 8000 123", Rejection::TooLong),
        ("12345678901", Rejection::UnknownFormat),
        ("0161234567", Rejection::UnknownFormat),
        ("+7 016 123 45 67", Rejection::UnknownFormat),
        ("+0 123 456 789", Rejection::UnknownFormat),
        ("000 123 456 789", Rejection::UnknownFormat),
        // A trunk prefix after the plus: +89 is not a calling code.
        ("+8 916 123-45-67", Rejection::UnknownFormat),
        ("+1 (015) 555-0100", Rejection::UnknownFormat),
        ("+1 (415) 155-0100", Rejection::UnknownFormat),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::phone(raw, &ru), Err(expected), "{raw:?}");
    }
    let other_countries = [
        (Country::Us, "555-0100", Rejection::TooShort),
        (Country::Us, "0415 555 0100", Rejection::UnknownFormat),
        (Country::Gb, "07911 1234", Rejection::UnknownFormat),
        (Country::Ua, "8 050 123 4567", Rejection::UnknownFormat),
        (Country::De, "030", Rejection::TooShort),
    ];
    for (country, raw, expected) in other_countries {
        assert_eq!(
            contact::phone(raw, &rules(country)),
            Err(expected),
            "{country:?} {raw:?}"
        );
    }
}

#[test]
fn emails() {
    // The longest address: a 64-byte local part and labels of at most 63, 254 in all.
    let longest = format!(
        "{}@{}.{}.{}.com",
        "a".repeat(64),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(57)
    );
    assert_eq!(longest.len(), 254);
    let cases = [
        (" Anna@Example.COM ", "anna@example.com"),
        ("IVANOV@YANDEX.RU", "ivanov@yandex.ru"),
        ("ivan.petrov+loyalty@mail.ru", "ivan.petrov+loyalty@mail.ru"),
        ("o'brien@example.co.uk", "o'brien@example.co.uk"),
        (
            "first_last-1@sub-domain.example.com",
            "first_last-1@sub-domain.example.com",
        ),
        ("анна@почта.рф", "анна@почта.рф"),
        ("ПЁТР@Почта.РФ", "пётр@почта.рф"),
        ("a@b.c", "a@b.c"),
        (longest.as_str(), longest.as_str()),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::email(raw), Ok(expected.to_string()), "{raw:?}");
    }
}

#[test]
fn emails_rejected() {
    let too_long = format!("anna@{}.com", "d.".repeat(125));
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_label = format!("anna@{}.com", "d".repeat(64));
    let cases = [
        ("", Rejection::Empty),
        ("  \t", Rejection::Empty),
        (too_long.as_str(), Rejection::TooLong),
        (long_local.as_str(), Rejection::TooLong),
        ("anna petrova@example.com", Rejection::InvalidCharacters),
        ("anna@exa mple.com", Rejection::InvalidCharacters),
        ("anna,petrova@example.com", Rejection::InvalidCharacters),
        ("Anna <anna@example.com>", Rejection::InvalidCharacters),
        ("mailto:anna@example.com", Rejection::InvalidCharacters),
        ("\"anna\"@example.com", Rejection::InvalidCharacters),
        ("anna@exam_ple.com", Rejection::InvalidCharacters),
        ("anna@[192.168.0.1]", Rejection::InvalidCharacters),
        ("anna.example.com", Rejection::UnknownFormat),
        ("anna@@example.com", Rejection::UnknownFormat),
        ("a@b@example.com", Rejection::UnknownFormat),
        ("@example.com", Rejection::UnknownFormat),
        ("anna@", Rejection::UnknownFormat),
        ("anna@localhost", Rejection::UnknownFormat),
        ("anna@example..com", Rejection::UnknownFormat),
        ("anna..petrova@example.com", Rejection::UnknownFormat),
        (".anna@example.com", Rejection::UnknownFormat),
        ("anna.@example.com", Rejection::UnknownFormat),
        ("anna@.example.com", Rejection::UnknownFormat),
        ("anna@example.com.", Rejection::UnknownFormat),
        ("anna@-example.com", Rejection::UnknownFormat),
        ("anna@example-.com", Rejection::UnknownFormat),
        ("anna@192.168.0.1", Rejection::UnknownFormat),
        (long_label.as_str(), Rejection::UnknownFormat),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::email(raw), Err(expected), "{raw:?}");
    }
}

#[test]
fn names() {
    let longest = format!("{}-{}", "а".repeat(49), "б".repeat(50));
    let longest_expected = format!("А{}-Б{}", "а".repeat(48), "б".repeat(49));
    let cases = [
        ("иВАНОВА-петрова", "Иванова-Петрова"),
        ("  анна   мария ", "Анна Мария"),
        ("ИВАН\tИВАНОВИЧ\u{a0}ИВАНОВ", "Иван Иванович Иванов"),
        ("Иванова - Петрова", "Иванова-Петрова"),
        ("Иванова – Петрова", "Иванова-Петрова"),
        ("Иванова -Петрова", "Иванова-Петрова"),
        ("жан-поль", "Жан-Поль"),
        ("ёлкина", "Ёлкина"),
        // Decomposed й and Ё, as some exports write them.
        ("и\u{306}ошкар-ола", "Йошкар-Ола"),
        ("Е\u{308}ЛКИНА", "Ёлкина"),
        ("o'brien", "O'Brien"),
        ("O’BRIEN", "O'Brien"),
        ("d'artagnan", "D'Artagnan"),
        // The Ukrainian apostrophe is inside a word.
        ("в'ячеслав", "В'ячеслав"),
        ("ДАР’Я", "Дар'я"),
        ("а.с. пушкин", "А.С. Пушкин"),
        ("ALEXANDER", "Alexander"),
        ("élodie", "Élodie"),
        ("müller-lüdenscheidt", "Müller-Lüdenscheidt"),
        ("σωκράτης", "Σωκράτης"),
        ("A", "A"),
        // Inner capitals are not kept.
        ("McDonald", "Mcdonald"),
        (longest.as_str(), longest_expected.as_str()),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::name(raw), Ok(expected.to_string()), "{raw:?}");
    }
    assert_eq!(longest_expected.chars().count(), NAME_MAX_CHARS);
}

#[test]
fn names_rejected() {
    let too_long = "а".repeat(NAME_MAX_CHARS + 1);
    let cases = [
        ("", Rejection::Empty),
        (" \t\n", Rejection::Empty),
        (too_long.as_str(), Rejection::TooLong),
        ("Иван2", Rejection::InvalidCharacters),
        ("R2-D2", Rejection::InvalidCharacters),
        ("Людовик XIV Ⅳ", Rejection::InvalidCharacters),
        ("anna@example.com", Rejection::InvalidCharacters),
        ("Иван_Петров", Rejection::InvalidCharacters),
        ("Анна, Мария", Rejection::InvalidCharacters),
        ("Анна (Маша)", Rejection::InvalidCharacters),
        ("`Анна`", Rejection::InvalidCharacters),
        ("-", Rejection::UnknownFormat),
        ("'", Rejection::UnknownFormat),
        ("...", Rejection::UnknownFormat),
        ("Анна--Мария", Rejection::UnknownFormat),
        ("-Анна", Rejection::UnknownFormat),
        ("Анна-", Rejection::UnknownFormat),
        ("Анна - - Мария", Rejection::UnknownFormat),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::name(raw), Err(expected), "{raw:?}");
    }
}

#[test]
fn birthdays() {
    let today = date(TODAY);
    let day_first = NormalizeRules::default();
    let month_first = NormalizeRules {
        date_order: DateOrder::MonthDayYear,
        ..NormalizeRules::default()
    };
    let cases = [
        (&day_first, "1985-03-07", "1985-03-07"),
        (&day_first, " 1985-3-7 ", "1985-03-07"),
        (&day_first, "07.03.1985", "1985-03-07"),
        (&day_first, "7.3.1985", "1985-03-07"),
        (&day_first, "7/3/1985", "1985-03-07"),
        (&day_first, "07/03/1985", "1985-03-07"),
        (&day_first, "31/12/1999", "1999-12-31"),
        (&day_first, "29.02.2000", "2000-02-29"),
        (&month_first, "3/7/1985", "1985-03-07"),
        (&month_first, "12/31/1999", "1999-12-31"),
        // The order applies to slashes only.
        (&month_first, "07.03.1985", "1985-03-07"),
        (&month_first, "1985-03-07", "1985-03-07"),
        // A dash with the year last reads like a slash, in the configured order.
        (&day_first, "07-03-1985", "1985-03-07"),
        (&month_first, "03-07-1985", "1985-03-07"),
        // Midnight times from spreadsheet and accounting exports.
        (&day_first, "1985-03-07 00:00:00", "1985-03-07"),
        (&day_first, "1985-03-07T00:00:00", "1985-03-07"),
        (&day_first, "1985-03-07T00:00:00.000Z", "1985-03-07"),
        (&day_first, "07.03.1985 0:00", "1985-03-07"),
        // Born today; 120 today; a day short of 121.
        (&day_first, "09.03.2026", "2026-03-09"),
        (&day_first, "09.03.1906", "1906-03-09"),
        (&day_first, "10.03.1905", "1905-03-10"),
    ];
    for (rules, raw, expected) in cases {
        assert_eq!(
            contact::birthday(raw, rules, today),
            Ok(date(expected)),
            "{raw:?} {:?}",
            rules.date_order
        );
    }
    // 1900 is the earliest year whatever today is.
    let long_ago = date("2000-01-01");
    assert_eq!(
        contact::birthday("1900-01-01", &day_first, long_ago),
        Ok(date("1900-01-01"))
    );
    assert_eq!(
        contact::birthday("31.12.1899", &day_first, long_ago),
        Err(Rejection::OutOfRange)
    );
}

#[test]
fn birthdays_rejected() {
    let today = date(TODAY);
    let day_first = NormalizeRules::default();
    let month_first = NormalizeRules {
        date_order: DateOrder::MonthDayYear,
        ..NormalizeRules::default()
    };
    let cases = [
        (&day_first, "", Rejection::Empty),
        (&day_first, "   ", Rejection::Empty),
        (&day_first, "7/3/85", Rejection::UnknownFormat),
        (&day_first, "07.03.85", Rejection::UnknownFormat),
        (&day_first, "85-03-07", Rejection::UnknownFormat),
        (&day_first, "1985/03/07", Rejection::UnknownFormat),
        (&day_first, "07-03-85", Rejection::UnknownFormat),
        (&day_first, "1985-03-07 13:45:00", Rejection::UnknownFormat),
        (&day_first, "1985-03-07 00:00:01", Rejection::UnknownFormat),
        (&day_first, "1985-03-07 00", Rejection::UnknownFormat),
        (
            &day_first,
            "1985-03-07 00:00:00 x",
            Rejection::UnknownFormat,
        ),
        (&day_first, "07.03/1985", Rejection::UnknownFormat),
        (&day_first, "1985-03", Rejection::UnknownFormat),
        (&day_first, "07.03.1985.", Rejection::UnknownFormat),
        (&day_first, "007.03.1985", Rejection::UnknownFormat),
        (&day_first, "7 марта 1985", Rejection::UnknownFormat),
        (&day_first, "19850307", Rejection::UnknownFormat),
        (&day_first, "+7.3.1985", Rejection::UnknownFormat),
        (&day_first, "31.02.1985", Rejection::ImpossibleDate),
        (&day_first, "29.02.2001", Rejection::ImpossibleDate),
        (&day_first, "00.03.1985", Rejection::ImpossibleDate),
        (&day_first, "07.13.1985", Rejection::ImpossibleDate),
        (&day_first, "1985-00-07", Rejection::ImpossibleDate),
        (&day_first, "3/31/1985", Rejection::ImpossibleDate),
        (&month_first, "31/3/1985", Rejection::ImpossibleDate),
        (&day_first, "1899-12-31", Rejection::OutOfRange),
        (&day_first, "0000-01-01", Rejection::OutOfRange),
        (&day_first, "09.03.1905", Rejection::OutOfRange),
        (&day_first, "1900-01-01", Rejection::OutOfRange),
        (&day_first, "10.03.2026", Rejection::InFuture),
        (&day_first, "2030-01-01", Rejection::InFuture),
    ];
    for (rules, raw, expected) in cases {
        assert_eq!(
            contact::birthday(raw, rules, today),
            Err(expected),
            "{raw:?} {:?}",
            rules.date_order
        );
    }
}

#[test]
fn genders() {
    let cases = [
        ("m", Ok(Gender::Male)),
        ("M", Ok(Gender::Male)),
        (" Male ", Ok(Gender::Male)),
        ("man", Ok(Gender::Male)),
        ("м", Ok(Gender::Male)),
        ("М", Ok(Gender::Male)),
        ("муж", Ok(Gender::Male)),
        ("Муж.", Ok(Gender::Male)),
        ("МУЖСКОЙ", Ok(Gender::Male)),
        ("f", Ok(Gender::Female)),
        ("FEMALE", Ok(Gender::Female)),
        ("woman", Ok(Gender::Female)),
        ("ж", Ok(Gender::Female)),
        ("Жен", Ok(Gender::Female)),
        ("жен.", Ok(Gender::Female)),
        ("Женский", Ok(Gender::Female)),
        ("", Err(Rejection::Empty)),
        ("  ", Err(Rejection::Empty)),
        ("x", Err(Rejection::UnknownFormat)),
        ("мж", Err(Rejection::UnknownFormat)),
        ("m/f", Err(Rejection::UnknownFormat)),
        ("1", Err(Rejection::UnknownFormat)),
        ("..", Err(Rejection::UnknownFormat)),
    ];
    for (raw, expected) in cases {
        assert_eq!(contact::gender(raw), expected, "{raw:?}");
    }
    assert_eq!(Gender::Female.as_str(), "female");
    assert_eq!(
        serde_json::to_value(Gender::Male).unwrap(),
        serde_json::json!(Gender::Male.as_str())
    );
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn arb_country() -> impl Strategy<Value = Country> {
    prop::sample::select(Country::ALL.to_vec())
}

/// Raw phone-like text: a usual prefix, then digits, separators and now and then a
/// stray plus or letter; about one in six is a number of the default country.
fn arb_phone_text() -> impl Strategy<Value = String> {
    let prefixes = vec![
        "", "", "+", "00", "8", "0", "7", "+7", "+1", "+44", "+49", "+375", "+380",
    ];
    let digit = (0u8..=9).prop_map(|d| char::from(b'0' + d));
    let piece = prop_oneof![
        30 => digit,
        8 => prop::sample::select(vec![' ', '-', '.', '(', ')', '\u{a0}']),
        1 => prop::sample::select(vec!['+', 'a']),
    ];
    (
        prop::sample::select(prefixes),
        prop::collection::vec(piece, 6..18),
    )
        .prop_map(|(prefix, rest)| format!("{prefix}{}", rest.into_iter().collect::<String>()))
}

/// A Russian mobile number written in one of the usual ways, with its digits.
fn arb_russian_mobile() -> impl Strategy<Value = (String, String)> {
    let prefixes = vec!["+7", "8", "7", "", "007", "+7 ", "8 ("];
    (
        prop::sample::select(prefixes),
        prop::collection::vec(0u8..=9, 9),
        prop::sample::select(vec!["", " ", "-", ".", "\u{a0}"]),
    )
        .prop_map(|(prefix, rest, separator)| {
            let national: String = std::iter::once('9')
                .chain(rest.into_iter().map(|d| char::from(b'0' + d)))
                .collect();
            let written = format!(
                "{prefix}{}{separator}{}{separator}{}{separator}{}",
                &national[..3],
                &national[3..6],
                &national[6..8],
                &national[8..]
            );
            (written, format!("+7{national}"))
        })
}

/// Raw name-like text: Latin and Cyrillic letters in both cases, spaces, hyphens,
/// apostrophes and dots.
fn arb_name_text() -> impl Strategy<Value = String> {
    let chars: Vec<char> = "aBcDeoOyзЗиИяЯёЁйЙщЩßİ -'’.\t".chars().collect();
    prop::collection::vec(prop::sample::select(chars), 0..30).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn phone_is_idempotent(raw in arb_phone_text(), country in arb_country(), other in arb_country()) {
        let rules = rules(country);
        if let Ok(normalised) = contact::phone(&raw, &rules) {
            prop_assert!(normalised.starts_with('+'));
            prop_assert!(normalised[1..].bytes().all(|b| b.is_ascii_digit()));
            prop_assert!((9..=16).contains(&normalised.len()), "{normalised}");
            prop_assert_eq!(contact::phone(&normalised, &rules), Ok(normalised.clone()));
            // A normalised number carries its country: the default no longer matters.
            prop_assert_eq!(contact::phone(&normalised, &self::rules(other)), Ok(normalised.clone()));
        }
    }

    #[test]
    fn russian_mobiles_normalise_and_stay(case in arb_russian_mobile()) {
        let (written, expected) = case;
        let rules = NormalizeRules::default();
        prop_assert_eq!(contact::phone(&written, &rules), Ok(expected.clone()));
        prop_assert_eq!(contact::phone(&expected, &rules), Ok(expected.clone()));
    }

    #[test]
    fn name_is_idempotent(raw in arb_name_text()) {
        if let Ok(normalised) = contact::name(&raw) {
            prop_assert_eq!(normalised.trim(), normalised.as_str());
            prop_assert!(!normalised.contains("  "));
            prop_assert_eq!(contact::name(&normalised), Ok(normalised.clone()));
        }
    }

    #[test]
    fn plain_words_become_title_case(words in prop::collection::vec("[a-zA-Zа-яА-Я]{1,12}", 1..4)) {
        let raw = words.join("  ");
        let normalised = contact::name(&raw).unwrap();
        let expected: Vec<String> = words
            .iter()
            .map(|word| {
                let mut chars = word.chars();
                let first = chars.next().unwrap().to_uppercase();
                first.chain(chars.flat_map(char::to_lowercase)).collect()
            })
            .collect();
        prop_assert_eq!(normalised, expected.join(" "));
    }

    #[test]
    fn email_is_idempotent(local in "[a-zA-Z0-9._+-]{1,20}", domain in "[a-zA-Z0-9-]{1,10}", top in "[a-zA-Z]{2,6}") {
        let raw = format!(" {local}@{domain}.{top} ");
        if let Ok(normalised) = contact::email(&raw) {
            prop_assert_eq!(normalised.clone(), raw.trim().to_lowercase());
            prop_assert_eq!(contact::email(&normalised), Ok(normalised.clone()));
        }
    }

    #[test]
    fn birthdays_read_alike_in_every_format(days in 0i64..(120 * 365), order_us in any::<bool>()) {
        let today = date(TODAY);
        let born = today - chrono::Duration::days(days);
        let rules = NormalizeRules {
            date_order: if order_us { DateOrder::MonthDayYear } else { DateOrder::DayMonthYear },
            ..NormalizeRules::default()
        };
        let slashed = if order_us { born.format("%-m/%-d/%Y") } else { born.format("%-d/%-m/%Y") };
        for written in [born.format("%Y-%m-%d").to_string(), born.format("%d.%m.%Y").to_string(), slashed.to_string()] {
            prop_assert_eq!(contact::birthday(&written, &rules, today), Ok(born), "{}", written);
        }
    }
}
