//! String similarity: Jaro–Winkler and Damerau–Levenshtein, on the stack for short strings.

/// Strings up to this many characters are compared without allocating.
const STACK_CHARS: usize = 64;

/// The Jaro–Winkler similarity of two strings, on chars: 1 for equal strings, 0 for
/// strings with nothing in common (or one empty). Matching window
/// `max(len) / 2 - 1`, prefix scale 0.1 over at most 4 characters, applied at any
/// Jaro score. MARTHA / MARHTA: 0.961.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if a.is_ascii() && b.is_ascii() {
        return jaro_winkler_of(a.as_bytes(), b.as_bytes());
    }
    with_chars(a, |a| with_chars(b, |b| jaro_winkler_of(a, b)))
}

/// The Damerau–Levenshtein distance of two strings in its optimal string alignment
/// form, on chars: insertions, deletions, substitutions and swaps of neighbours, no
/// substring edited twice (so CA / ABC is 3, not 2).
pub fn damerau_levenshtein(a: &str, b: &str) -> usize {
    if a.is_ascii() && b.is_ascii() {
        return osa_of(a.as_bytes(), b.as_bytes());
    }
    with_chars(a, |a| with_chars(b, |b| osa_of(a, b)))
}

/// Calls `f` with the chars of `s`, on the stack when there are few.
fn with_chars<R>(s: &str, f: impl FnOnce(&[char]) -> R) -> R {
    let mut buf = ['\0'; STACK_CHARS];
    let mut n_chars = 0;
    for c in s.chars() {
        match buf.get_mut(n_chars) {
            Some(slot) => *slot = c,
            None => return f(&s.chars().collect::<Vec<_>>()),
        }
        n_chars += 1;
    }
    f(&buf[..n_chars])
}

/// One flag per position of a string.
trait Flags {
    fn get(&self, idx: usize) -> bool;
    fn set(&mut self, idx: usize);
}

/// The bits of a `u64`, for strings of up to 64 characters.
impl Flags for u64 {
    fn get(&self, idx: usize) -> bool {
        self & (1 << idx) != 0
    }

    fn set(&mut self, idx: usize) {
        *self |= 1 << idx;
    }
}

impl Flags for Vec<bool> {
    fn get(&self, idx: usize) -> bool {
        self.as_slice().get(idx).copied().unwrap_or(false)
    }

    fn set(&mut self, idx: usize) {
        if let Some(flag) = self.get_mut(idx) {
            *flag = true;
        }
    }
}

fn jaro_winkler_of<T: Copy + Ord>(a: &[T], b: &[T]) -> f64 {
    // The greedy matching walks one side; a fixed order makes the result symmetric.
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    if a.is_empty() || b.is_empty() {
        return if a.len() == b.len() { 1.0 } else { 0.0 };
    }
    if a.len().max(b.len()) <= 64 {
        jaro_winkler_flagged(a, b, 0u64, 0u64)
    } else {
        jaro_winkler_flagged(a, b, vec![false; a.len()], vec![false; b.len()])
    }
}

fn jaro_winkler_flagged<T: Copy + Eq, F: Flags>(
    a: &[T],
    b: &[T],
    mut a_matched: F,
    mut b_matched: F,
) -> f64 {
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut n_matches = 0usize;
    for (a_idx, &ca) in a.iter().enumerate() {
        let hi = (a_idx + window + 1).min(b.len());
        let found = (a_idx.saturating_sub(window)..hi)
            .find(|&b_idx| !b_matched.get(b_idx) && b[b_idx] == ca);
        if let Some(b_idx) = found {
            a_matched.set(a_idx);
            b_matched.set(b_idx);
            n_matches += 1;
        }
    }
    if n_matches == 0 {
        return 0.0;
    }
    let mut n_out_of_order = 0usize;
    let mut b_idx = 0;
    for (a_idx, &ca) in a.iter().enumerate() {
        if !a_matched.get(a_idx) {
            continue;
        }
        while b_idx < b.len() && !b_matched.get(b_idx) {
            b_idx += 1;
        }
        if b.get(b_idx) != Some(&ca) {
            n_out_of_order += 1;
        }
        b_idx += 1;
    }
    let m = n_matches as f64;
    let transpositions = n_out_of_order as f64 / 2.0;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions) / m) / 3.0;
    let prefix = a.iter().zip(b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

fn osa_of<T: Copy + Eq>(a: &[T], b: &[T]) -> usize {
    // A common prefix or suffix costs nothing (no swap can straddle its edge), and a
    // typo pair is mostly that.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    if a.is_empty() || b.is_empty() {
        return a.len().max(b.len());
    }
    // Three rows of the edit table: two rows back (for swaps), the last, the current.
    let width = b.len() + 1;
    let mut stack = [0usize; 3 * (STACK_CHARS + 1)];
    let mut heap = Vec::new();
    let rows: &mut [usize] = if 3 * width <= stack.len() {
        &mut stack[..3 * width]
    } else {
        heap.resize(3 * width, 0);
        &mut heap
    };
    let (mut two_ago, mut last, mut current) = (0, width, 2 * width);
    for (col, cell) in rows[last..last + width].iter_mut().enumerate() {
        *cell = col;
    }
    for (row, &ca) in a.iter().enumerate() {
        rows[current] = row + 1;
        for (col, &cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            let mut best = (rows[last + col + 1] + 1)
                .min(rows[current + col] + 1)
                .min(rows[last + col] + cost);
            if row > 0 && col > 0 && a[row - 1] == cb && ca == b[col - 1] {
                best = best.min(rows[two_ago + col - 1] + 1);
            }
            rows[current + col + 1] = best;
        }
        (two_ago, last, current) = (last, current, two_ago);
    }
    rows[last + b.len()]
}
