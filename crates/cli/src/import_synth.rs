//! `tessera import synth`: writes a deterministic, deliberately dirty customer file
//! for trying and benchmarking the import: about 10% of the people appear twice
//! (another source's spelling, a typo, a transliteration, another phone format), 2%
//! share a family phone, 1% carry a placeholder phone or email, 1% have an invalid
//! value.

use anyhow::{Context, Result};
use clap::Args;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args)]
pub struct SynthArgs {
    /// Rows to write.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// The CSV file to write.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the generator (the same seed writes the same file).
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

const FIRST_F: &[&str] = &[
    "Alina",
    "Alla",
    "Valentina",
    "Valeria",
    "Vera",
    "Galina",
    "Daria",
    "Zhanna",
    "Zoya",
    "Inna",
    "Kristina",
    "Larisa",
    "Lidia",
    "Lyudmila",
    "Margarita",
    "Nadezhda",
    "Nina",
    "Polina",
    "Raisa",
    "Sofia",
    "Taisia",
    "Ulyana",
    "Yana",
    "Viktoria",
    "Ksenia",
    "Lyubov",
    "Anna",
    "Maria",
    "Elena",
    "Olga",
    "Natalia",
    "Irina",
    "Svetlana",
    "Tatiana",
    "Yulia",
    "Ekaterina",
    "Анна",
    "Мария",
    "Елена",
    "Ольга",
    "Наталья",
    "Ирина",
];
const FIRST_M: &[&str] = &[
    "Anatoly",
    "Arkady",
    "Boris",
    "Vadim",
    "Valery",
    "Viktor",
    "Vitaly",
    "Vladimir",
    "Gennady",
    "Georgy",
    "Grigory",
    "Denis",
    "Egor",
    "Evgeny",
    "Igor",
    "Konstantin",
    "Leonid",
    "Maxim",
    "Oleg",
    "Roman",
    "Ruslan",
    "Stanislav",
    "Stepan",
    "Timur",
    "Fedor",
    "Yury",
    "Yaroslav",
    "Ivan",
    "Sergey",
    "Alexander",
    "Dmitry",
    "Andrey",
    "Alexey",
    "Mikhail",
    "Nikolai",
    "Pavel",
    "Иван",
    "Сергей",
    "Александр",
    "Дмитрий",
    "Андрей",
];
const LAST: &[&str] = &[
    "Ivanov",
    "Petrov",
    "Sidorov",
    "Smirnov",
    "Kuznetsov",
    "Popov",
    "Vasiliev",
    "Sokolov",
    "Mikhailov",
    "Novikov",
    "Fedorov",
    "Morozov",
    "Volkov",
    "Alekseev",
    "Lebedev",
    "Semenov",
    "Egorov",
    "Pavlov",
    "Kozlov",
    "Stepanov",
    "Nikolaev",
    "Orlov",
    "Andreev",
    "Makarov",
    "Nikitin",
    "Zakharov",
    "Zaitsev",
    "Soloviev",
    "Borisov",
    "Yakovlev",
];
/// Surname roots; with the endings below they make some 2,000 surnames, about as
/// varied as a city's customers.
const ROOTS: &[&str] = &[
    "Belo", "Cherno", "Gromo", "Dubro", "Zhuko", "Karpo", "Kole", "Kras", "Lisits", "Mal",
    "Medved", "Mel", "Naum", "Ovchin", "Pankrat", "Rodio", "Sever", "Tikho", "Ushak", "Frolo",
    "Khar", "Tsvet", "Chist", "Shuv", "Shcherb", "Yudin", "Yasn", "Abram", "Bogdan", "Vlas",
    "Gavril", "Davyd", "Efim", "Zuev", "Ignat", "Kirill", "Lavr", "Maksim", "Nestor", "Osip",
    "Prokhor", "Rom", "Savel", "Timof", "Ustin", "Filipp", "Khrist", "Tsar", "Chaik", "Shilo",
    "Archip", "Bazhen", "Vorob", "Golub", "Dyatl", "Erm", "Zhdan", "Zimin", "Isaak", "Kuzm",
    "Lukin", "Mir", "Nikon", "Ostap", "Polyak", "Rusak", "Sazon", "Trof", "Uvar", "Fomin",
    "Khudyak", "Tsyb", "Chudin", "Shat", "Shchuk", "Yurl", "Yakush", "Agap", "Bulat", "Vedern",
];
const ENDINGS: &[&str] = &[
    "ov", "ev", "in", "sky", "enko", "uk", "ich", "ykh", "aev", "ikov", "ovich", "ets", "an",
    "nik", "shin", "yan", "ko", "akov", "ilin", "usov", "ochkin", "tsev", "ishin", "ovsky", "urin",
];

fn surname(rng: &mut SmallRng) -> String {
    let root = pick(rng, ROOTS);
    if rng.random_bool(0.2) {
        return pick(rng, LAST).to_string();
    }
    format!("{root}{}", pick(rng, ENDINGS))
}

const CITIES: &[&str] = &["Moscow", "Kazan", "Omsk", "Tver", "Samara", "Perm", "Ufa"];

/// One person of the synthetic population.
struct Person {
    first: String,
    last: String,
    female: bool,
    birthday: (u32, u32, u32),
    phone: u64,
    email: String,
    card: u64,
    city: &'static str,
}

fn pick<'a>(rng: &mut SmallRng, list: &[&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn person(rng: &mut SmallRng, n: u64) -> Person {
    let female = rng.random_bool(0.5);
    let first = pick(rng, if female { FIRST_F } else { FIRST_M }).to_string();
    let mut last = surname(rng);
    if female && (last.ends_with('v') || last.ends_with("in")) {
        last.push('a');
    }
    Person {
        email: format!(
            "user{n}@{}",
            ["mail.ru", "yandex.ru", "gmail.com", "bk.ru"][(n % 4) as usize]
        ),
        first,
        last,
        female,
        birthday: (
            rng.random_range(1950..2006),
            rng.random_range(1..13),
            rng.random_range(1..29),
        ),
        phone: 9_000_000_000 + n * 7 % 999_999_999,
        card: 2_000_000_000_000 + n,
        city: pick(rng, CITIES),
    }
}

/// A one-letter typo.
fn typo(rng: &mut SmallRng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() > 3 {
        let i = rng.random_range(1..chars.len() - 1);
        chars.swap(i, i + 1);
    }
    chars.into_iter().collect()
}

fn csv_field(out: &mut Vec<u8>, value: &str) {
    if value.contains([',', '"', '\n']) {
        out.push(b'"');
        out.extend(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend(value.as_bytes());
    }
}

pub fn run(args: SynthArgs) -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    writeln!(
        w,
        "source_id,first_name,last_name,gender,birthday,phone,email,card,city,consent_email,consent_sms,created_at"
    )?;
    let mut line = Vec::with_capacity(256);
    let mut written = 0u64;
    let mut n = 0u64;
    let family_phone = |n: u64| 9_990_000_000 + n / 3;
    while written < args.rows {
        n += 1;
        let p = person(&mut rng, n);
        let copies = if rng.random_bool(0.1) { 2 } else { 1 };
        for copy in 0..copies {
            if written >= args.rows {
                break;
            }
            written += 1;
            line.clear();
            let (mut first, mut last) = (p.first.clone(), p.last.clone());
            let mut phone = format!("+7{}", p.phone);
            let mut email = p.email.clone();
            let mut birthday = format!(
                "{:04}-{:02}-{:02}",
                p.birthday.0, p.birthday.1, p.birthday.2
            );
            let mut card = p.card.to_string();
            if copy == 1 {
                // The same person as another source wrote them down.
                match rng.random_range(0..4) {
                    0 => last = typo(&mut rng, &last),
                    1 => {
                        phone = format!(
                            "8 ({}) {}",
                            &p.phone.to_string()[..3],
                            &p.phone.to_string()[3..]
                        )
                    }
                    2 => {
                        birthday = format!(
                            "{:02}.{:02}.{:04}",
                            p.birthday.2, p.birthday.1, p.birthday.0
                        );
                        email = email.to_uppercase();
                    }
                    _ => first = typo(&mut rng, &first),
                }
                if rng.random_bool(0.5) {
                    card.clear();
                }
            }
            let roll: f64 = rng.random();
            if roll < 0.02 {
                phone = format!("+7{}", family_phone(n));
            } else if roll < 0.025 {
                phone = "+70000000000".into();
            } else if roll < 0.03 {
                email = "test@test.ru".into();
            } else if roll < 0.035 {
                phone = "12345".into();
            } else if roll < 0.04 {
                birthday = "31.02.1990".into();
            }
            let source_id = format!("{}{}", if copy == 0 { "a" } else { "b" }, n);
            let gender = if p.female { "f" } else { "m" };
            let consent = if rng.random_bool(0.7) { "1" } else { "0" };
            let created = format!("2025-{:02}-{:02} 10:00:00", 1 + n % 12, 1 + n % 28);
            let fields: [&str; 12] = [
                &source_id, &first, &last, gender, &birthday, &phone, &email, &card, p.city,
                consent, "1", &created,
            ];
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    line.push(b',');
                }
                csv_field(&mut line, f);
            }
            line.push(b'\n');
            w.write_all(&line)?;
        }
    }
    w.flush()?;
    println!(
        "wrote {written} rows ({n} people) to {}",
        args.out.display()
    );
    Ok(())
}
