//! Matching customer records: the string similarities against known values, name
//! folding, birthdays, blocked values, the decision table, and the fuzzy rule's
//! precision and recall on a labelled set of pairs.

use chrono::NaiveDate;
use proptest::prelude::*;
use tessera_core::matching::{
    birthday_agreement, compatible_birthdays, damerau_levenshtein, fold_name, fold_name_into,
    folded_score, is_diminutive_pair, jaro_winkler, name_birthday_score, names_disagree, Action,
    BirthdayAgreement, Decision, FoldedPerson, Identifier, MatchKind, MatchRules, Person,
    SharedValue, DEFAULT_FUZZY_THRESHOLD, DIMINUTIVES,
};

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A person from `[last, first, middle, birthday]`, blank meaning absent.
fn person<'a>(fields: [&'a str; 4]) -> Person<'a> {
    let [last, first, middle, birthday] = fields;
    let present = |s: &'a str| (!s.is_empty()).then_some(s);
    Person {
        first_name: present(first),
        middle_name: present(middle),
        last_name: present(last),
        birthday: present(birthday).map(date),
    }
}

#[test]
fn jaro_winkler_known_values() {
    let cases = [
        ("MARTHA", "MARHTA", 0.961),
        ("DIXON", "DICKSONX", 0.813),
        ("DWAYNE", "DUANE", 0.840),
        ("JELLYFISH", "SMELLYFISH", 0.896),
        ("МАРТХА", "МАРХТА", 0.961),
        ("abc", "abc", 1.0),
        ("abc", "xyz", 0.0),
        ("", "", 1.0),
        ("", "a", 0.0),
        ("a", "", 0.0),
    ];
    for (a, b, expected) in cases {
        let similarity = jaro_winkler(a, b);
        assert!(
            (similarity - expected).abs() < 0.0005,
            "{a} / {b}: {similarity}"
        );
    }
}

#[test]
fn damerau_levenshtein_known_values() {
    let long: String = "а".repeat(70);
    let long_typo = format!("{}б", "а".repeat(69));
    let cases: [(&str, &str, usize); 12] = [
        ("CA", "ABC", 3),
        ("kitten", "sitting", 3),
        ("ab", "ba", 1),
        ("abcdef", "abdcef", 1),
        ("", "abc", 3),
        ("abc", "", 3),
        ("", "", 0),
        ("Сергей", "Сергеи", 1),
        ("ёжик", "ежик", 1),
        ("Петров", "Петорв", 1),
        (&long, &long_typo, 1),
        (&long, "", 70),
    ];
    for (a, b, expected) in cases {
        assert_eq!(damerau_levenshtein(a, b), expected, "{a} / {b}");
    }
}

#[test]
fn long_strings_take_the_heap_path_with_the_same_results() {
    let long = "abcdefghij".repeat(10);
    let cyrillic = "абвгдежзий".repeat(10);
    assert_eq!(jaro_winkler(&long, &long), 1.0);
    assert_eq!(jaro_winkler(&cyrillic, &cyrillic), 1.0);
    assert_eq!(damerau_levenshtein(&long, &long), 0);
    let swapped = format!("{}ji", &long[..98]);
    assert_eq!(damerau_levenshtein(&long, &swapped), 1);
    assert!(jaro_winkler(&long, &swapped) > 0.99);
}

#[test]
fn fold_name_table() {
    let cases = [
        // One name in Cyrillic and in Latin spellings.
        (
            &["Юлия", "Yulia", "Julia", "Iuliia", "Yuliya", "ЮЛИЯ"][..],
            "yulia",
        ),
        (&["Сергей", "Sergey", "Sergei", "Sergej"][..], "sergei"),
        (
            &["Александр", "Aleksandr", "Alexander", "Aleksander"][..],
            "aleksandr",
        ),
        (&["Алексей", "Aleksey", "Alexei", "Alexey"][..], "aleksei"),
        (&["Дмитрий", "Dmitry", "Dmitriy", "Dmitrii"][..], "dmitri"),
        (
            &["Наталья", "Natalya", "Natalia", "Nataliya", "Natal'ya"][..],
            "natalia",
        ),
        (&["Татьяна", "Tatyana", "Tatiana"][..], "tatiana"),
        (&["Ксения", "Kseniya", "Xenia", "Ksenia"][..], "ksenia"),
        (&["Михаил", "Mikhail", "Mihail"][..], "mihail"),
        (&["Фёдор", "Fyodor", "Fedor"][..], "fedor"),
        (&["Пётр", "Pyotr", "Petr"][..], "petr"),
        (&["Евгений", "Yevgeny", "Evgeniy", "Evgenii"][..], "evgeni"),
        (&["Елена", "Yelena", "Elena", "Jelena"][..], "elena"),
        (&["Илья", "Ilya", "Ilia"][..], "ilia"),
        (&["Софья", "Sofia", "Sophia", "Sofiya"][..], "sofia"),
        (&["Юрий", "Yuri", "Yury", "Iurii", "Jurij"][..], "yuri"),
        (
            &["Яковлев", "Yakovlev", "Iakovlev", "Jakowlew"][..],
            "yakovlev",
        ),
        (&["Андреев", "Andreev", "Andreyev"][..], "andreev"),
        (&["Майоров", "Mayorov", "Maiorov"][..], "maiorov"),
        (
            &["Высоцкий", "Vysotsky", "Vysotskiy", "Vysotskii"][..],
            "vysotski",
        ),
        (
            &["Высоцкая", "Vysotskaya", "Vysotskaia", "Vysotskaja"][..],
            "vysotskaia",
        ),
        (&["Кузнецов", "Kuznetsov", "Kuznetzov"][..], "kuznetsov"),
        (&["Людмила", "Lyudmila", "Liudmila"][..], "liudmila"),
        (&["Рыбаков", "Rybakov"][..], "rybakov"),
        (&["Белый", "Belyy", "Bely"][..], "beli"),
        (&["Щукин", "Shchukin"][..], "shchukin"),
        (&["Жанна", "Zhanna"][..], "zhana"),
        (&["Анна", "Anna"][..], "ana"),
        // Separators, case and marks.
        (
            &["  Петрова-Водкина ", "Petrova Vodkina", "PETROVA_VODKINA"][..],
            "petrova vodkina",
        ),
        (&["Ann-Marie O'Brien"][..], "an marie obrien"),
        (&["Renée Müller"][..], "renee muler"),
        (&["", " - ", "123"][..], ""),
    ];
    for (spellings, folded) in cases {
        for spelling in spellings {
            assert_eq!(fold_name(spelling), folded, "{spelling}");
        }
    }
}

#[test]
fn fold_name_into_reuses_the_buffer() {
    let mut buffer = String::from("left over");
    fold_name_into("Юлия", &mut buffer);
    assert_eq!(buffer, "yulia");
    fold_name_into("Sergey", &mut buffer);
    assert_eq!(buffer, "sergei");
    // Other scripts are kept, lower-cased.
    fold_name_into("Ωμέγα Ли", &mut buffer);
    assert_eq!(buffer, "ωμέγα li");
}

#[test]
fn diminutives_are_folded_and_pair_up() {
    for (short, full) in DIMINUTIVES {
        assert_eq!(fold_name(short), *short);
        assert_eq!(fold_name(full), *full);
        assert!(is_diminutive_pair(short, full) && is_diminutive_pair(full, short));
    }
    assert!(is_diminutive_pair("sasha", "shura"));
    assert!(is_diminutive_pair(
        &fold_name("Катя"),
        &fold_name("Екатерина")
    ));
    assert!(is_diminutive_pair(
        &fold_name("Zhenya"),
        &fold_name("Евгения")
    ));
    assert!(!is_diminutive_pair("sasha", "sergei"));
    assert!(!is_diminutive_pair("sasha", "sasha"));
}

#[test]
fn birthday_agreement_table() {
    use BirthdayAgreement::*;
    let cases = [
        ("1985-03-12", "1985-03-12", Some(Same)),
        ("1985-02-01", "1985-01-02", Some(DayMonthSwapped)),
        ("1985-03-12", "1985-03-13", Some(DayTypo)),
        ("1985-03-12", "1985-03-22", Some(DayTypo)),
        ("1985-03-03", "1985-03-08", Some(DayTypo)),
        ("1985-03-12", "1985-03-21", None),
        ("1985-03-12", "1985-03-23", None),
        ("1985-03-12", "1986-03-12", None),
        ("1985-03-12", "1985-04-12", None),
        ("1985-02-01", "1986-01-02", None),
        ("1985-03-12", "1985-12-04", None),
    ];
    for (a, b, expected) in cases {
        assert_eq!(birthday_agreement(date(a), date(b)), expected, "{a} / {b}");
        assert_eq!(birthday_agreement(date(b), date(a)), expected, "{b} / {a}");
    }
}

#[test]
fn compatible_birthdays_are_exactly_the_agreeing_ones() {
    for year in [2023, 2024] {
        let days: Vec<NaiveDate> = date(&format!("{year}-01-01"))
            .iter_days()
            .take_while(|d| d.to_string().starts_with(&year.to_string()))
            .collect();
        for &day in &days {
            let mut compatible: Vec<NaiveDate> = compatible_birthdays(day).collect();
            assert_eq!(compatible.first(), Some(&day));
            assert!(compatible.len() <= 14);
            compatible.sort();
            let expected: Vec<NaiveDate> = days
                .iter()
                .copied()
                .filter(|other| birthday_agreement(day, *other).is_some())
                .collect();
            assert_eq!(compatible, expected, "{day}");
        }
    }
}

#[test]
fn blocked_phones() {
    let rules = MatchRules::default();
    let blocked = [
        "+70000000000",
        "+79999999999",
        "+71111111111",
        "+77777777777",
        "+380000000000",
        "+4455555555",
        "+71234567890",
    ];
    for phone in blocked {
        assert!(rules.is_blocked_phone(phone), "{phone}");
    }
    for phone in ["+79161234567", "+77000000001", "+14155550100"] {
        assert!(!rules.is_blocked_phone(phone), "{phone}");
    }
    let custom = MatchRules {
        blocked_phones: vec!["+79161234567".to_string()],
        ..MatchRules::default()
    };
    assert!(custom.is_blocked_phone("+79161234567"));
    assert!(!custom.is_blocked_phone("+71234567890"));
}

#[test]
fn blocked_emails() {
    let rules = MatchRules::default();
    let blocked = [
        "test@test.ru",
        "TEST@test.com",
        "noemail@mail.ru",
        "no@no.ru",
        "anna@example.com",
        "ivan@test.ru",
        "a@a.ru",
        "111@mail.ru",
        "",
        "no-at-sign",
    ];
    for email in blocked {
        assert!(rules.is_blocked_email(email), "{email}");
    }
    for email in ["anna@example.ru.com", "ivan.petrov@mail.ru", "ab@gmail.com"] {
        assert!(!rules.is_blocked_email(email), "{email}");
    }
    assert!(rules.is_blocked(Identifier::Card, "00000000"));
    assert!(rules.is_blocked(Identifier::ExternalId, " "));
    assert!(!rules.is_blocked(Identifier::Card, "700100001234"));
}

#[test]
fn rules_default_validate_and_read_partially() {
    let rules = MatchRules::default();
    assert_eq!(rules.fuzzy_threshold, DEFAULT_FUZZY_THRESHOLD);
    assert_eq!(rules.max_profiles_per_value, 3);
    assert!(rules.validate().is_ok());
    let json = serde_json::to_string(&rules).unwrap();
    assert_eq!(serde_json::from_str::<MatchRules>(&json).unwrap(), rules);
    let partial: MatchRules =
        serde_json::from_str(r#"{"fuzzy_threshold": 0.95, "blocked_phones": []}"#).unwrap();
    assert_eq!(partial.fuzzy_threshold, 0.95);
    assert!(partial.blocked_phones.is_empty());
    assert_eq!(partial.blocked_emails, rules.blocked_emails);
    assert!(serde_json::from_str::<MatchRules>(r#"{"threshold": 0.9}"#).is_err());
    for bad in [
        MatchRules {
            fuzzy_threshold: 0.0,
            ..MatchRules::default()
        },
        MatchRules {
            fuzzy_threshold: f64::NAN,
            ..MatchRules::default()
        },
        MatchRules {
            max_profiles_per_value: 1,
            ..MatchRules::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}

#[test]
fn score_needs_birthdays_and_last_names() {
    let full = person(["Иванов", "Сергей", "", "1985-03-12"]);
    let cases = [
        person(["Иванов", "Сергей", "", ""]),
        person(["", "Сергей", "", "1985-03-12"]),
        person([" ", "Сергей", "", "1985-03-12"]),
        person(["Иванов", "Сергей", "", "1985-03-21"]),
    ];
    for other in cases {
        assert_eq!(name_birthday_score(&full, &other), None, "{other:?}");
        assert_eq!(name_birthday_score(&other, &full), None, "{other:?}");
    }
    assert_eq!(name_birthday_score(&full, &full), Some(1.0));
}

#[test]
fn score_adjustments() {
    let score = |a: [&str; 4], b: [&str; 4]| name_birthday_score(&person(a), &person(b)).unwrap();
    let base = ["Petrov", "Ivan", "", "1980-05-14"];
    let close = |x: f64, expected: f64| (x - expected).abs() < 1e-9;
    assert_eq!(score(base, base), 1.0);
    assert!(close(score(base, ["Petrov", "", "", "1980-05-14"]), 0.90));
    assert!(close(
        score(base, ["Petrov", "Ivan", "", "1980-05-15"]),
        0.96
    ));
    assert!(close(
        score(
            ["Petrov", "Ivan", "", "1980-05-04"],
            ["Petrov", "Ivan", "", "1980-04-05"]
        ),
        0.98
    ));
    assert!(close(
        score(base, ["Petrov", "Vanya", "", "1980-05-14"]),
        0.975
    ));
    assert!(close(
        score(base, ["Ivan", "Petrov", "", "1980-05-14"]),
        0.97
    ));
    let middle_agrees = score(
        ["Petrov", "", "Sergeevich", "1980-05-14"],
        ["Petrov", "Ivan", "Sergeyevich", "1980-05-14"],
    );
    assert!(close(middle_agrees, 0.94));
    let middle_differs = score(
        ["Petrov", "Ivan", "Sergeevich", "1980-05-14"],
        ["Petrov", "Ivan", "Olegovich", "1980-05-14"],
    );
    assert!(close(middle_differs, 0.90));
    let spouse = score(base, ["Petrova", "Ivana", "", "1980-05-14"]);
    assert!(spouse < 0.7, "{spouse}");
}

#[test]
fn names_disagree_table() {
    let fold = |fields: [&str; 4]| person(fields).fold();
    let ivan = fold(["Petrov", "Ivan", "", "1980-05-14"]);
    let cases = [
        (["Petrov", "Ivan", "", "1980-05-14"], false),
        (["Petrov", "Vanya", "", ""], false),
        (["Smirnov", "Ivan", "", "1980-05-14"], false),
        (["Petrov", "", "", ""], false),
        (["", "", "", ""], false),
        (["Petrov", "Ivan", "", "1980-05-15"], false),
        (["Petrova", "Maria", "", "1982-01-30"], true),
        (["Petrova", "", "", ""], true),
        (["Petrov", "Ivan", "", "2008-09-01"], true),
        (["Petrov", "Sergei", "", ""], true),
    ];
    for (other, disagree) in cases {
        assert_eq!(names_disagree(&ivan, &fold(other)), disagree, "{other:?}");
        assert_eq!(names_disagree(&fold(other), &ivan), disagree, "{other:?}");
    }
}

fn shared(on: Identifier, value: &str, n_profiles: usize) -> SharedValue<'_> {
    SharedValue {
        on,
        value,
        n_profiles,
    }
}

#[test]
fn decision_table() {
    use Identifier::*;
    let rules = MatchRules::default();
    let fold = |fields: [&str; 4]| person(fields).fold();
    let ivan = fold(["Petrov", "Ivan", "Sergeevich", "1980-05-14"]);
    let ivan_typo = fold(["Petorv", "Ivan", "", "1980-05-14"]);
    let maria = fold(["Petrova", "Maria", "", "1983-11-02"]);
    let unknown = FoldedPerson::default();
    let merge = |on| Decision {
        kind: MatchKind::Exact { on },
        action: Action::Merge,
    };
    let review = |on| Decision {
        kind: MatchKind::Exact { on },
        action: Action::Review,
    };
    let none = Decision {
        kind: MatchKind::None,
        action: Action::None,
    };
    let phone = shared(Phone, "+79161234567", 2);
    let email = shared(Email, "petrov@mail.ru", 2);
    let card = shared(Card, "700100001234", 2);
    let external = shared(ExternalId, "crm-1234", 2);
    let cases: Vec<(
        &str,
        Vec<SharedValue>,
        &FoldedPerson,
        &FoldedPerson,
        Decision,
    )> = vec![
        (
            "phone, same person",
            vec![phone],
            &ivan,
            &ivan_typo,
            merge(Phone),
        ),
        (
            "phone, one side nameless",
            vec![phone],
            &ivan,
            &unknown,
            merge(Phone),
        ),
        ("phone, a family", vec![phone], &ivan, &maria, review(Phone)),
        ("email, a family", vec![email], &ivan, &maria, review(Email)),
        (
            "card, whatever the names",
            vec![card],
            &ivan,
            &maria,
            merge(Card),
        ),
        (
            "external id",
            vec![external],
            &ivan,
            &maria,
            merge(ExternalId),
        ),
        (
            "card outranks phone",
            vec![phone, card],
            &ivan,
            &maria,
            merge(Card),
        ),
        (
            "external id outranks card",
            vec![card, external],
            &ivan,
            &ivan,
            merge(ExternalId),
        ),
        (
            "phone outranks email",
            vec![email, phone],
            &ivan,
            &ivan,
            merge(Phone),
        ),
        (
            "placeholder phone",
            vec![shared(Phone, "+70000000000", 2)],
            &ivan,
            &maria,
            none,
        ),
        (
            "placeholder email",
            vec![shared(Email, "test@test.ru", 2)],
            &ivan,
            &maria,
            none,
        ),
        (
            "phone of K profiles",
            vec![shared(Phone, "+79161234567", 3)],
            &ivan,
            &ivan,
            merge(Phone),
        ),
        (
            "phone of K+1 profiles",
            vec![shared(Phone, "+79161234567", 4)],
            &ivan,
            &maria,
            none,
        ),
        (
            "card of K+1 profiles",
            vec![shared(Card, "700100001234", 4)],
            &ivan,
            &maria,
            none,
        ),
        ("nothing shared", vec![], &ivan, &maria, none),
        ("nothing shared, nameless", vec![], &unknown, &unknown, none),
    ];
    for (name, values, a, b, expected) in cases {
        assert_eq!(rules.decide(&values, a, b), expected, "{name}");
        assert_eq!(rules.decide(&values, b, a), expected, "{name}, reversed");
    }
    // A blocked phone leaves name and birthday to decide: review, never merge.
    let placeholder = [shared(Phone, "+79999999999", 2)];
    let decision = rules.decide(&placeholder, &ivan, &ivan_typo);
    assert_eq!(decision.action, Action::Review);
    assert!(matches!(decision.kind, MatchKind::Fuzzy { score } if score >= 0.92));
    let strict = MatchRules {
        fuzzy_threshold: 0.99,
        ..MatchRules::default()
    };
    assert_eq!(strict.decide(&placeholder, &ivan, &ivan_typo), none);
}

#[test]
fn decisions_serialize_for_the_review_queue() {
    let decision = Decision {
        kind: MatchKind::Exact {
            on: Identifier::Phone,
        },
        action: Action::Review,
    };
    assert_eq!(
        serde_json::to_value(decision).unwrap(),
        serde_json::json!({"kind": {"type": "exact", "on": "phone"}, "action": "review"})
    );
}

/// Labelled pairs: `[last, first, middle, birthday]` twice and whether they are one
/// person.
#[rustfmt::skip]
const LABELLED: &[([&str; 4], [&str; 4], bool)] = &[
    // One person: transliterations, typos, swapped birthdays, diminutives.
    (["Иванов", "Сергей", "Петрович", "1985-03-12"], ["Ivanov", "Sergey", "Petrovich", "1985-03-12"], true),
    (["Петрова", "Юлия", "", "1990-07-21"], ["Petrova", "Julia", "", "1990-07-21"], true),
    (["Кузнецова", "Наталья", "", "1978-11-02"], ["Kuznetsova", "Natalia", "", "1978-02-11"], true),
    (["Смирнов", "Александр", "", "1982-05-09"], ["Smirnov", "Alexander", "", "1982-05-09"], true),
    (["Смирнов", "Александр", "", "1982-05-09"], ["Smirnov", "Sasha", "", "1982-05-09"], true),
    (["Попов", "Дмитрий", "", "1991-12-30"], ["Popov", "Dmitry", "", "1991-12-31"], true),
    (["Соколова", "Екатерина", "", "1987-06-15"], ["Sokolova", "Katya", "", "1987-06-15"], true),
    (["Lebedev", "Andrei", "", "1975-01-20"], ["Lebedev", "Andrey", "", "1975-01-20"], true),
    (["Kozlov", "Mikhail", "", "1969-09-03"], ["Kozlov", "Mihail", "", "1969-09-03"], true),
    (["Новикова", "Анастасия", "", "1995-04-28"], ["Novikova", "Anastasiya", "", "1995-04-28"], true),
    (["Морозов", "Алексей", "Викторович", "1980-08-08"], ["Morozov", "Aleksei", "Viktorovich", "1980-08-08"], true),
    (["Volkov", "Pavel", "", "1983-02-17"], ["Volkv", "Pavel", "", "1983-02-17"], true),
    (["Alekseeva", "Tatyana", "", "1972-10-05"], ["Alexeeva", "Tatiana", "", "1972-10-05"], true),
    (["Лебедева", "Ксения", "", "1999-03-14"], ["Lebedeva", "Xenia", "", "1999-03-14"], true),
    (["Semenov", "Fyodor", "", "1960-12-01"], ["Семёнов", "Фёдор", "", "1960-12-01"], true),
    (["Egorov", "Yevgeny", "", "1988-07-07"], ["Егоров", "Евгений", "", "1988-07-07"], true),
    (["Pavlova", "Olga", "", "1976-03-30"], ["Павлова", "Ольга", "Ивановна", "1976-03-30"], true),
    (["Nikolaev", "Ilya", "", "1993-05-19"], ["Nikolayev", "Ilia", "", "1993-05-19"], true),
    (["Orlova", "Mariya", "", "1984-04-06"], ["Orlova", "Maria", "", "1984-06-04"], true),
    (["Andreev", "Vasiliy", "", "1958-11-11"], ["Andreyev", "Vasily", "", "1958-11-11"], true),
    (["Makarov", "Maksim", "", "2001-01-25"], ["Makarov", "Maxim", "", "2001-01-25"], true),
    (["Zakharova", "Daria", "", "1997-08-13"], ["Zaharova", "Darya", "", "1997-08-13"], true),
    (["Fedorov", "Pyotr", "", "1966-02-22"], ["Фёдоров", "Пётр", "", "1966-02-22"], true),
    (["Belova", "Yelena", "", "1979-09-29"], ["Белова", "Елена", "", "1979-09-29"], true),
    (["Sergey", "Tarasov", "", "1981-06-10"], ["Tarasov", "Sergey", "", "1981-06-10"], true),
    (["Gusev", "", "Ivanovich", "1970-12-12"], ["Gusev", "Oleg", "Ivanovich", "1970-12-12"], true),
    // A first name missing on one side and nothing else to go on: below the threshold.
    (["Titov", "", "", "1981-09-14"], ["Titov", "Roman", "", "1981-09-14"], true),
    (["Kiselev", "Konstantin", "", "1986-04-04"], ["Kiselev", "Konstnatin", "", "1986-04-04"], true),
    (["Stepanova", "Svetlana", "", "1974-07-18"], ["Stepnova", "Svetlaan", "", "1974-07-18"], true),
    (["Vinogradov", "Vyacheslav", "", "1990-10-10"], ["Виноградов", "Вячеслав", "", "1990-10-10"], true),
    (["Bogdanova", "Lyudmila", "", "1955-05-05"], ["Bogdanova", "Ludmila", "", "1955-05-05"], true),
    (["Romanova", "Iuliia", "", "1992-02-29"], ["Романова", "Юлия", "", "1992-02-29"], true),
    (["Iakovlev", "Iakov", "", "1964-03-08"], ["Яковлев", "Яков", "", "1964-03-08"], true),
    (["Medvedeva", "Alyona", "", "1998-11-21"], ["Медведева", "Алёна", "", "1998-11-21"], true),
    (["Kovalenko", "Natasha", "", "1989-09-09"], ["Kovalenko", "Natalya", "", "1989-09-09"], true),
    (["Frolov", "Zhenya", "", "1994-01-31"], ["Фролов", "Евгений", "", "1994-01-31"], true),
    (["Tikhonov", "Artyom", "", "2000-06-06"], ["Тихонов", "Артём", "", "2000-06-06"], true),
    (["Sorokin", "Dmitriy", "", "1988-04-07"], ["Sorokyn", "Dmitrii", "", "1988-04-01"], true),
    (["Vysotskaya", "Anna", "", "1971-08-16"], ["Высоцкая", "Анна", "", "1971-08-16"], true),
    (["Gorbunov", "Vladimir", "", "1962-07-03"], ["Gorbunov", "Vova", "", "1962-07-03"], true),
    (["Petrova-Vodkina", "Irina", "", "1985-10-27"], ["Петрова-Водкина", "Ирина", "", "1985-10-27"], true),
    (["  KUZMIN ", "ivan", "", "1977-12-24"], ["Kuzmin", "Ivan", "", "1977-12-24"], true),
    (["Zaitseva", "Evgenia", "Andreevna", "1986-05-03"], ["Zaytseva", "Evgeniya", "Andreyevna", "1986-03-05"], true),
    (["Shcherbakov", "Grigoriy", "", "1959-02-14"], ["Щербаков", "Гриша", "", "1959-02-14"], true),
    (["Kudryavtseva", "Polina", "", "2003-09-17"], ["Kudriavtseva", "Polina", "", "2003-09-17"], true),
    // One person whose last name changed on marriage: the fuzzy rule misses it
    // (the phone or email usually carries it).
    (["Иванова", "Ольга", "Сергеевна", "1984-02-03"], ["Петрова", "Ольга", "Сергеевна", "1984-02-03"], true),
    // Different people: relatives, namesakes, twins.
    (["Иванов", "Сергей", "", "1985-03-12"], ["Иванова", "Мария", "", "1985-03-12"], false),
    (["Иванов", "Сергей", "", "1985-03-12"], ["Иванов", "Сергей", "", "1992-03-12"], false),
    (["Petrov", "Ivan", "", "1960-01-15"], ["Petrov", "Ivan", "", "1988-01-15"], false),
    (["Smirnov", "Aleksandr", "", "2005-05-20"], ["Smirnova", "Aleksandra", "", "2005-05-20"], false),
    (["Kuznetsova", "Alina", "", "2010-03-03"], ["Kuznetsova", "Alena", "", "2010-03-03"], false),
    (["Ivanov", "Ivan", "Petrovich", "1980-01-01"], ["Ivanov", "Ivan", "Sergeevich", "1980-01-01"], false),
    (["Kuznetsov", "Andrei", "Olegovich", "1975-06-14"], ["Kuznetsov", "Andrei", "Ivanovich", "1975-06-19"], false),
    (["Sidorov", "Petr", "", "1990-09-09"], ["Smirnova", "Olga", "", "1990-09-09"], false),
    (["Petrova", "Elena", "", "1965-04-04"], ["Petrova", "Elena", "", "1990-04-04"], false),
    (["Popov", "Ivan", "", "1990-05-05"], ["Popov", "Ilya", "", "1990-05-06"], false),
    (["Sokolov", "Dmitri", "Andreevich", "1983-04-05"], ["Sokolov", "Dmitri", "Pavlovich", "1983-05-04"], false),
    (["Popova", "Anna", "", "1999-09-09"], ["Popov", "Anton", "", "1999-09-09"], false),
    (["Lebedev", "Aleksei", "", "1982-11-30"], ["Morozov", "Aleksei", "", "1982-11-30"], false),
    (["Volkov", "Dmitri", "", "1987-08-15"], ["Volkov", "Denis", "", "1987-08-25"], false),
    (["Fedorov", "Anton", "", "1980-03-07"], ["Fedorova", "Anna", "", "1980-07-03"], false),
    (["Petrova", "Yana", "", "2012-12-12"], ["Petrov", "Yan", "", "2012-12-12"], false),
    (["Vysotskiy", "Evgeni", "", "2004-02-02"], ["Vysotskaya", "Evgenia", "", "2004-02-02"], false),
    (["Kozlov", "Mikhail", "", "1969-09-03"], ["Kozlov", "Mikhail", "", "1996-09-03"], false),
    (["Orlov", "Nikita", "", "1991-07-11"], ["Orlov", "Nikolai", "", "1991-07-11"], false),
    (["Egorova", "Marina", "Ivanovna", "1978-10-10"], ["Egorova", "Irina", "Ivanovna", "1978-10-10"], false),
    (["Belov", "Sergei", "", "1973-01-13"], ["Belov", "Sergei", "", "1973-01-31"], false),
    (["Makarova", "Daria", "", "1995-06-20"], ["Makarova", "Diana", "", "1995-06-02"], false),
    (["Tarasov", "Oleg", "", "1968-05-30"], ["Tarasova", "Olga", "", "1968-05-30"], false),
    (["Grigoriev", "Roman", "", "1985-08-19"], ["Grigorieva", "Romana", "", "1985-08-19"], false),
];

#[test]
fn fuzzy_rule_precision_and_recall_at_the_default_threshold() {
    assert!(LABELLED.len() >= 40);
    let (mut true_pos, mut false_pos, mut false_neg) = (0u32, 0u32, 0u32);
    for (a, b, duplicate) in LABELLED {
        let score = name_birthday_score(&person(*a), &person(*b));
        let again = name_birthday_score(&person(*b), &person(*a));
        assert_eq!(score, again, "{a:?} / {b:?}");
        assert!(score.is_none_or(|s| (0.0..=1.0).contains(&s)));
        let predicted = score.is_some_and(|s| s >= DEFAULT_FUZZY_THRESHOLD);
        match (predicted, *duplicate) {
            (true, true) => true_pos += 1,
            (true, false) => false_pos += 1,
            (false, true) => false_neg += 1,
            (false, false) => {}
        }
    }
    let precision = f64::from(true_pos) / f64::from(true_pos + false_pos);
    let recall = f64::from(true_pos) / f64::from(true_pos + false_neg);
    assert!(precision >= 0.95, "precision {precision}");
    assert!(recall >= 0.85, "recall {recall}");
}

#[test]
fn folded_and_raw_scores_agree() {
    for (a, b, _) in LABELLED {
        let (a, b) = (person(*a), person(*b));
        assert_eq!(
            name_birthday_score(&a, &b),
            folded_score(&a.fold(), &b.fold())
        );
    }
}

/// The optimal string alignment distance by the textbook full table.
fn reference_osa(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1)
                .min(table[i][j - 1] + 1)
                .min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

fn arb_text() -> impl Strategy<Value = String> {
    let chars = prop::sample::select(vec![
        'a', 'b', 'e', 'i', 'y', 'j', 'k', 'h', 'x', ' ', '-', 'а', 'е', 'ё', 'й', 'я', 'ь', 'ß',
        'é', 'Ω',
    ]);
    prop::collection::vec(chars, 0..80).prop_map(|chars| chars.into_iter().collect())
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn similarities_are_symmetric_and_perfect_on_self(a in arb_text(), b in arb_text()) {
        prop_assert_eq!(jaro_winkler(&a, &b), jaro_winkler(&b, &a));
        prop_assert_eq!(damerau_levenshtein(&a, &b), damerau_levenshtein(&b, &a));
        prop_assert_eq!(jaro_winkler(&a, &a), 1.0);
        prop_assert_eq!(damerau_levenshtein(&a, &a), 0);
        let similarity = jaro_winkler(&a, &b);
        prop_assert!((0.0..=1.0).contains(&similarity));
        let distance = damerau_levenshtein(&a, &b);
        prop_assert!(distance <= a.chars().count().max(b.chars().count()));
        prop_assert_eq!(distance == 0, a == b);
        prop_assert_eq!(distance, reference_osa(&a, &b));
    }

    #[test]
    fn damerau_levenshtein_of_near_strings_matches_the_full_table(
        a in arb_text(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4), 0..4),
    ) {
        // Near strings share long prefixes and suffixes, which the distance trims.
        let mut chars: Vec<char> = a.chars().collect();
        for (at, edit) in edits {
            if chars.is_empty() {
                chars.push('a');
                continue;
            }
            let idx = at.index(chars.len());
            match edit {
                0 => { chars.remove(idx); }
                1 => chars.insert(idx, 'я'),
                2 => chars[idx] = 'b',
                _ => if idx + 1 < chars.len() { chars.swap(idx, idx + 1) },
            }
        }
        let b: String = chars.into_iter().collect();
        prop_assert_eq!(damerau_levenshtein(&a, &b), reference_osa(&a, &b));
    }

    #[test]
    fn folded_names_are_trimmed_lower_case_words(name in arb_text()) {
        let folded = fold_name(&name);
        prop_assert!(!folded.starts_with(' ') && !folded.ends_with(' '));
        prop_assert!(!folded.contains("  "));
        prop_assert!(!folded.chars().any(|c| c.is_uppercase()));
    }
}
