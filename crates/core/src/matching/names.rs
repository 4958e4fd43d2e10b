//! Folding names to the form they are compared in, and known diminutives.

/// Folds a name to the form names are compared in, so that spellings of one name in
/// Cyrillic and in the usual Latin transliterations come out equal or nearly:
/// "Юлия", "Yulia", "Julia", "Iuliia" all give `yulia`; "Сергей", "Sergey", "Sergei",
/// "Sergej" give `sergei`; "Александр", "Aleksandr", "Alexander" give `aleksandr`.
///
/// 1. Lower case. Words are split at white space, `-`, `_`, `.`, `,` and `/`, and joined
///    by one space; digits, apostrophes and other marks are dropped (`Natal'ya`).
/// 2. Cyrillic to Latin: а a, б b, в v, г g, д d, е/ё/э e, ж zh, з z, и/й i, к k, л l,
///    м m, н n, о o, п p, р r, с s, т t, у u, ф f, х kh, ц ts, ч ch, ш sh, щ shch,
///    ы y, ю yu, я ya, ь and ъ dropped (Ukrainian і/ї i, є e, ґ g). Latin letters with
///    diacritics lose them (é e, ü u; š sh, ž zh, č ch, ß ss). Then `j` is `y`, `w`
///    is `v`, `x` is `ks`. Other scripts are kept as they are.
/// 3. Variants of one sound, within each word:
///    - at the start, `i` before a vowel is `y` (`iulia`, `iakov`), and `ye` is `e`
///      (`yelena`, `yegor`);
///    - `kh` is `h` (`mikhail`/`mihail`), `ph` is `f`, `tz` is `ts`;
///    - elsewhere `y` is `i` next to a vowel or at the end (`natalya`, `mayorov`,
///      `dmitry`, `sergey`), except `yo` after a consonant, which is `e` (`fyodor`,
///      `pyotr`, `semyon`), and `y` between a vowel and `e`, which is dropped
///      (`andreyev`); `y` between consonants (ы, `rybakov`) stays;
///    - a final `ander` is `andr` (`aleksander`);
///    - a doubled consonant or `i` is one (`anna`/`ana`, `iia`/`ia`, `ii`/`i`); doubled
///      vowels stay, as a typo there must not look like a lost ending (`svetlaan`).
pub fn fold_name(name: &str) -> String {
    let mut folded = String::new();
    fold_name_into(name, &mut folded);
    folded
}

/// [`fold_name`] into a buffer the caller reuses (cleared first).
pub fn fold_name_into(name: &str, out: &mut String) {
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.clear();
    transliterate(name, &mut bytes);
    let len = fold_variants(&mut bytes);
    bytes.truncate(len);
    // Only ASCII bytes are ever removed or rewritten, so the bytes stay UTF-8.
    *out = String::from_utf8(bytes).unwrap_or_default();
}

/// Step 1 and 2 of [`fold_name`].
fn transliterate(name: &str, out: &mut Vec<u8>) {
    for c in name.chars().flat_map(char::to_lowercase) {
        let latin: &str = match c {
            'a'..='z' => match c {
                'j' => "y",
                'w' => "v",
                'x' => "ks",
                _ => {
                    out.push(c as u8);
                    continue;
                }
            },
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' | 'ґ' => "g",
            'д' => "d",
            'е' | 'ё' | 'э' | 'є' => "e",
            'ж' | 'ž' => "zh",
            'з' => "z",
            'и' | 'й' | 'і' | 'ї' => "i",
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
            'ч' | 'č' => "ch",
            'ш' | 'š' => "sh",
            'щ' => "shch",
            'ы' => "y",
            'ю' => "yu",
            'я' => "ya",
            'ь' | 'ъ' => "",
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' | 'ć' => "c",
            'è' | 'é' | 'ê' | 'ë' | 'ě' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' | 'ń' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ů' => "u",
            'ý' | 'ÿ' => "y",
            'ß' => "ss",
            c if c.is_whitespace() || matches!(c, '-' | '_' | '.' | ',' | '/') => {
                if out.last().is_some_and(|last| *last != b' ') {
                    out.push(b' ');
                }
                continue;
            }
            c if c.is_alphabetic() => {
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(latin.as_bytes());
    }
    if out.last() == Some(&b' ') {
        out.pop();
    }
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

pub(super) fn is_consonant(c: u8) -> bool {
    c.is_ascii_lowercase() && !is_vowel(c)
}

/// Step 3 of [`fold_name`], in place over the transliterated bytes (every rule keeps
/// or shortens the text, so the write position never passes the read position).
/// Returns the folded length.
fn fold_variants(bytes: &mut [u8]) -> usize {
    let len = bytes.len();
    let (mut read, mut write, mut word_start) = (0, 0, 0);
    while read < len {
        let c = bytes[read];
        if c == b' ' {
            bytes[write] = b' ';
            write += 1;
            word_start = write;
            read += 1;
            continue;
        }
        // 0 stands for the end of the word on either side.
        let at = |idx: usize| match bytes.get(idx) {
            Some(b' ') | None => 0,
            Some(&c) => c,
        };
        let next = at(read + 1);
        let prev = if write > word_start {
            bytes[write - 1]
        } else {
            0
        };
        let (emitted, consumed) = if write == word_start {
            let c = if c == b'i' && matches!(next, b'a' | b'e' | b'o' | b'u') {
                b'y'
            } else {
                c
            };
            match (c, next) {
                (b'y', b'e') => (Some(b'e'), 2),
                (b'p', b'h') => (Some(b'f'), 2),
                (b'k', b'h') => (Some(b'h'), 2),
                _ => (Some(c), 1),
            }
        } else {
            match (c, next) {
                (b'p', b'h') => (Some(b'f'), 2),
                (b'k', b'h') => (Some(b'h'), 2),
                (b'z', _) if prev == b't' => (Some(b's'), 1),
                (b'y', b'o') if is_consonant(prev) => (Some(b'e'), 2),
                (b'y', b'e') if is_vowel(prev) => (None, 1),
                (b'y', _) if is_vowel(prev) || is_vowel(next) || next == 0 => (Some(b'i'), 1),
                (b'e', b'r')
                    if at(read + 2) == 0
                        && write >= word_start + 3
                        && bytes[write - 3..write] == *b"and" =>
                {
                    (None, 1)
                }
                _ => (Some(c), 1),
            }
        };
        if let Some(out) = emitted {
            let doubled =
                (out == b'i' || is_consonant(out)) && write > word_start && bytes[write - 1] == out;
            if !doubled {
                bytes[write] = out;
                write += 1;
            }
        }
        read += consumed;
    }
    write
}

/// Common diminutives and the full first names they stand for, both folded
/// ([`fold_name`] leaves every entry as it is).
pub const DIMINUTIVES: &[(&str, &str)] = &[
    ("sasha", "aleksandr"),
    ("sasha", "aleksandra"),
    ("shura", "aleksandr"),
    ("shura", "aleksandra"),
    ("sania", "aleksandr"),
    ("lesha", "aleksei"),
    ("alesha", "aleksei"),
    ("nastia", "anastasia"),
    ("tolia", "anatoli"),
    ("ania", "ana"),
    ("tema", "artem"),
    ("boria", "boris"),
    ("dasha", "daria"),
    ("dima", "dmitri"),
    ("mitia", "dmitri"),
    ("katia", "ekaterina"),
    ("lena", "elena"),
    ("zhenia", "evgeni"),
    ("zhenia", "evgenia"),
    ("galia", "galina"),
    ("grisha", "grigori"),
    ("ira", "irina"),
    ("vania", "ivan"),
    ("kostia", "konstantin"),
    ("ksiusha", "ksenia"),
    ("liuba", "liubov"),
    ("liuda", "liudmila"),
    ("mila", "liudmila"),
    ("maks", "maksim"),
    ("masha", "maria"),
    ("misha", "mihail"),
    ("nadia", "nadezhda"),
    ("natasha", "natalia"),
    ("kolia", "nikolai"),
    ("olia", "olga"),
    ("pasha", "pavel"),
    ("petia", "petr"),
    ("polia", "polina"),
    ("roma", "roman"),
    ("serezha", "sergei"),
    ("stas", "stanislav"),
    ("sveta", "svetlana"),
    ("tania", "tatiana"),
    ("valia", "valentina"),
    ("vasia", "vasili"),
    ("slava", "viacheslav"),
    ("slava", "vladislav"),
    ("slava", "yaroslav"),
    ("vika", "viktoria"),
    ("vitia", "viktor"),
    ("vitia", "vitali"),
    ("vlad", "vladislav"),
    ("vova", "vladimir"),
    ("volodia", "vladimir"),
    ("yura", "yuri"),
];

/// Whether two folded first names are one name: a diminutive and its full name, or two
/// diminutives of one name (Sasha and Shura). Equal names are not a pair.
pub fn is_diminutive_pair(a: &str, b: &str) -> bool {
    a != b
        && DIMINUTIVES.iter().any(|&(short, full)| {
            (short == a && (full == b || DIMINUTIVES.iter().any(|&(s, f)| s == b && f == full)))
                || (short == b && full == a)
        })
}
