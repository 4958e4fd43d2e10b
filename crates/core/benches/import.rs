//! Reads, normalises and plans a synthetic customer import of 1,000,000 CSV rows, and
//! prints the throughput of each step. `cargo bench -p tessera-core --bench import`
//! (no harness: a program that prints figures). The target of issue 5 is the whole
//! import, storage included, in under 60 s on two cores; parsing, normalising and
//! planning against a million existing customers should take a small part of that.
//!
//! The rows are people drawn from one population by a seeded generator: about 10%
//! repeat a person already in the file (with a typo, a transliteration, a swapped
//! birthday, another phone format or a missing field), about 3% carry an invalid value,
//! and a few share a placeholder phone or email. The existing customers are another
//! million people of the same population, half of them also in the file.

use chrono::{NaiveDate, TimeZone, Utc};
use std::fmt::Write;
use std::hint::black_box;
use std::time::Instant;
use tessera_core::contact::NormalizeRules;
use tessera_core::import::{
    plan_with_threads, read_csv_with_threads, ExistingProfile, ImportReport, RowCleaner,
};
use tessera_core::matching::{MatchRules, Person};

const N_ROWS: usize = 1_000_000;
const N_EXISTING: usize = 1_000_000;
/// File people are drawn from `FILE_FIRST..`, existing ones from `0..N_EXISTING`.
const FILE_FIRST: u64 = 500_000;

fn main() {
    let started = Instant::now();
    let csv = synthesise_csv();
    println!(
        "synthesised {N_ROWS} rows ({:.0} MB) in {:.2} s",
        csv.len() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    let cleaner = RowCleaner {
        rules: NormalizeRules::default(),
        today: date(2026, 3, 9),
        now: Utc
            .with_ymd_and_hms(2026, 3, 9, 12, 0, 0)
            .single()
            .unwrap_or_default(),
    };
    let rules = MatchRules::default();

    let started = Instant::now();
    let existing = synthesise_existing();
    println!(
        "built and folded {N_EXISTING} existing profiles in {:.2} s (loading them is the store's part)",
        started.elapsed().as_secs_f64()
    );
    for n_threads in [1, 2] {
        println!("--- {n_threads} thread(s)");
        let (parsed, parse_s, parse_cpu) =
            timed(|| read_csv_with_threads(black_box(&csv), &cleaner, n_threads));
        let Ok(parsed) = parsed else {
            println!("the synthetic file did not parse");
            return;
        };
        println!(
            "parse + normalise: {:.2} s (cpu {:.2} s), {:.0} rows/s ({} rows, {} refused values, {} unreadable rows)",
            parse_s,
            parse_cpu,
            N_ROWS as f64 / parse_s,
            parsed.rows.len(),
            parsed.rejections.len(),
            parsed.row_errors.len()
        );

        let (alone, alone_s, alone_cpu) =
            timed(|| plan_with_threads(black_box(&parsed.rows), &[], &rules, "legacy", n_threads));
        println!(
            "plan against 0 existing: {:.2} s (cpu {:.2} s), {:.0} rows/s; {} clusters, {} candidates, {} withheld values",
            alone_s,
            alone_cpu,
            N_ROWS as f64 / alone_s,
            alone.clusters.len(),
            alone.candidates.len(),
            alone.withheld.len()
        );
        drop(alone);

        let (full, full_s, full_cpu) = timed(|| {
            plan_with_threads(
                black_box(&parsed.rows),
                &existing,
                &rules,
                "legacy",
                n_threads,
            )
        });
        let report = ImportReport::new("legacy", &parsed, &full);
        println!(
            "plan against {N_EXISTING} existing: {:.2} s (cpu {:.2} s), {:.0} rows/s; {} new, {} updated, {} merged, {} candidates, {} card conflicts",
            full_s,
            full_cpu,
            N_ROWS as f64 / full_s,
            report.n_created,
            report.n_updated,
            report.n_merged,
            report.n_review_candidates,
            report.n_card_conflicts
        );
        println!(
            "total parse + normalise + plan against {N_EXISTING} existing: {:.2} s (cpu {:.2} s)",
            parse_s + full_s,
            parse_cpu + full_cpu
        );
    }
}

/// The CPU time of this process so far, in seconds, from `/proc/self/stat` (user and
/// system ticks, at the usual 100 per second); 0 where there is no such file. Other
/// work on the machine inflates wall times but not this, so both are printed.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name may hold spaces; the fields after it are space-separated.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |idx: usize| {
        fields
            .get(idx)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall and CPU seconds of `work`.
fn timed<R>(work: impl FnOnce() -> R) -> (R, f64, f64) {
    let (started, cpu_started) = (Instant::now(), cpu_seconds());
    let result = work();
    (
        result,
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_started,
    )
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default()
}

/// SplitMix64: a tiny seeded generator, so the core needs no `rand`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const MALE_FIRST: &[&str] = &[
    "Александр",
    "Сергей",
    "Дмитрий",
    "Андрей",
    "Алексей",
    "Максим",
    "Иван",
    "Михаил",
    "Артём",
    "Николай",
    "Евгений",
    "Владимир",
    "Павел",
    "Роман",
    "Олег",
    "Игорь",
    "Юрий",
    "Виктор",
    "Константин",
    "Георгий",
    "Борис",
    "Фёдор",
    "Тимур",
    "Кирилл",
    "Егор",
];
const FEMALE_FIRST: &[&str] = &[
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Татьяна",
    "Ирина",
    "Светлана",
    "Екатерина",
    "Юлия",
    "Анастасия",
    "Дарья",
    "Ксения",
    "Марина",
    "Людмила",
    "Галина",
    "Вера",
    "Надежда",
    "Полина",
    "Алина",
    "Виктория",
    "Софья",
    "Кристина",
    "Валентина",
];
/// Masculine forms; the feminine adds `а`.
const LAST: &[&str] = &[
    "Иванов",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Петров",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
    "Семёнов",
    "Егоров",
    "Павлов",
    "Козлов",
    "Степанов",
    "Николаев",
    "Орлов",
    "Андреев",
    "Макаров",
    "Никитин",
    "Захаров",
    "Зайцев",
    "Соловьёв",
    "Борисов",
    "Яковлев",
    "Григорьев",
    "Романов",
    "Воробьёв",
    "Сергеев",
    "Кузьмин",
    "Фролов",
    "Александров",
    "Дмитриев",
    "Королёв",
    "Гусев",
    "Киселёв",
    "Ильин",
    "Максимов",
    "Поляков",
    "Сорокин",
    "Виноградов",
    "Ковалёв",
    "Белов",
    "Медведев",
    "Антонов",
    "Тарасов",
    "Жуков",
    "Баранов",
    "Филиппов",
    "Комаров",
    "Давыдов",
    "Беляев",
    "Герасимов",
    "Богданов",
    "Осипов",
    "Сидоров",
    "Матвеев",
    "Титов",
];
const MIDDLE_MALE: &[&str] = &[
    "Александрович",
    "Сергеевич",
    "Дмитриевич",
    "Андреевич",
    "Иванович",
    "Михайлович",
    "Николаевич",
    "Владимирович",
    "Петрович",
    "Юрьевич",
];
const CITIES: &[&str] = &["Москва", "Санкт-Петербург", "Казань", "Владивосток", "Омск"];

/// A person of the synthetic population: every attribute follows from the number.
struct Individual {
    female: bool,
    first: &'static str,
    last: String,
    middle: String,
    birthday: NaiveDate,
    phone: u64,
    card: Option<u64>,
    email: Option<String>,
}

fn individual(number: u64) -> Individual {
    let mut rng = Rng(number.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let female = rng.chance(55);
    let first = if female {
        rng.pick(FEMALE_FIRST)
    } else {
        rng.pick(MALE_FIRST)
    };
    let last_male = rng.pick(LAST);
    let last = if female {
        format!("{last_male}а")
    } else {
        last_male.to_string()
    };
    let middle_male = rng.pick(MIDDLE_MALE);
    let middle = if female {
        middle_male.replace("ич", "на")
    } else {
        middle_male.to_string()
    };
    let birthday = date(1950, 1, 1) + chrono::Days::new(rng.below(365 * 55));
    // Distinct per person: the number spread over the 900 million mobile numbers.
    let phone = 9_000_000_000 + (number.wrapping_mul(7_919) % 1_000_000_000);
    let card = rng
        .chance(70)
        .then_some(2_000_000_000_000 + number * 13 % 1_000_000_000_000);
    let email = rng.chance(50).then(|| {
        let latin = ["anna", "ivan", "olga", "petr", "maria", "sergey", "elena"];
        format!("{}{}@mail.example.ru", latin[rng.below(7) as usize], number)
    });
    Individual {
        female,
        first,
        last,
        middle,
        birthday,
        phone,
        card,
        email,
    }
}

/// A Latin spelling of a Cyrillic name, as another system might hold it.
fn transliterate(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let lower = c.to_lowercase().next().unwrap_or(c);
        let latin = match lower {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'е' => "e",
            'ё' => "yo",
            'ж' => "zh",
            'з' => "z",
            'и' => "i",
            'й' => "y",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "kh",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ы' => "y",
            'ь' => "",
            'ъ' => "",
            'э' => "e",
            'ю' => "yu",
            'я' => "ya",
            _ => {
                out.push(c);
                continue;
            }
        };
        if c.is_uppercase() {
            let mut chars = latin.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        } else {
            out.push_str(latin);
        }
    }
    out
}

/// Drops one letter (not the first): a typo.
fn typo(name: &str, rng: &mut Rng) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < 4 {
        return name.to_string();
    }
    let at = 1 + rng.below(chars.len() as u64 - 1) as usize;
    chars
        .iter()
        .enumerate()
        .filter(|(idx, _)| *idx != at)
        .map(|(_, c)| c)
        .collect()
}

fn format_phone(phone: u64, rng: &mut Rng) -> String {
    let digits = phone.to_string();
    match rng.below(3) {
        0 => format!(
            "+7 ({}) {}-{}-{}",
            &digits[..3],
            &digits[3..6],
            &digits[6..8],
            &digits[8..]
        ),
        1 => format!("8{digits}"),
        _ => format!("7{digits}"),
    }
}

fn synthesise_csv() -> String {
    let mut rng = Rng(42);
    let mut csv = String::with_capacity(N_ROWS * 160);
    csv.push_str("source_id,first_name,middle_name,last_name,gender,birthday,phone,email,card,city,consent_email,consent_sms,created_at,loyalty_level\n");
    let mut next_person = FILE_FIRST;
    for row in 0..N_ROWS {
        let repeat = row > 1000 && rng.chance(10);
        let number = if repeat {
            FILE_FIRST + rng.below(next_person - FILE_FIRST)
        } else {
            next_person += 1;
            next_person - 1
        };
        let person = individual(number);
        let mut first = person.first.to_string();
        let mut last = person.last.clone();
        let mut birthday = person.birthday.format("%d.%m.%Y").to_string();
        let mut phone = format_phone(person.phone, &mut rng);
        let mut email = person.email.clone().unwrap_or_default();
        let mut card = person.card.map(|c| c.to_string()).unwrap_or_default();
        // Another system's id: a repeat keeps it only sometimes.
        let source_id = if repeat && rng.chance(50) {
            format!("R{row}")
        } else {
            format!("P{number}")
        };
        if repeat {
            match rng.below(6) {
                0 => last = typo(&last, &mut rng),
                1 => {
                    first = transliterate(&first);
                    last = transliterate(&last);
                }
                2 => birthday = person.birthday.format("%m.%d.%Y").to_string(),
                3 => phone.clear(),
                4 => card.clear(),
                _ => email.clear(),
            }
        }
        match rng.below(100) {
            0 => phone = "12345".into(),
            1 => email = "someone@".into(),
            2 => birthday = "31.02.1990".into(),
            3 => phone = "+70000000000".into(),
            4 if rng.chance(20) => email = "test@test.ru".into(),
            _ => {}
        }
        let gender = if person.female { "ж" } else { "м" };
        let city = rng.pick(CITIES);
        let consent = if rng.chance(50) { "да" } else { "0" };
        let _ = writeln!(
            csv,
            "{source_id},{first},{},{last},{gender},{birthday},{phone},{email},{card},{city},{consent},1,2020-05-0{} 10:00:00,gold",
            person.middle,
            1 + rng.below(9)
        );
    }
    csv
}

fn synthesise_existing() -> Vec<ExistingProfile> {
    (0..N_EXISTING as u64)
        .map(|number| {
            let person = individual(number);
            let folded = Person {
                first_name: Some(person.first),
                middle_name: Some(&person.middle),
                last_name: Some(&person.last),
                birthday: Some(person.birthday),
            }
            .fold();
            ExistingProfile {
                customer_id: format!("c{number:08}"),
                created_at: None,
                cards: person.card.map(|c| vec![c.to_string()]).unwrap_or_default(),
                phones: vec![format!("+7{}", person.phone)],
                emails: person.email.into_iter().collect(),
                external_ids: vec![("legacy".to_string(), format!("P{number}"))],
                person: folded,
            }
        })
        .collect()
}
