//! One-time redemption codes: HOTP (RFC 4226) and TOTP (RFC 6238) over HMAC-SHA1, the
//! verifier that refuses replays, the throttle on wrong codes, and the base32 secrets
//! and `otpauth://` URIs that authenticator apps are provisioned with.
//!
//! When a program sets `redeem_requires_code`, spending points needs a code the
//! customer's app shows. The per-customer secret (20 bytes) is drawn from a CSPRNG
//! outside the core, and every instant here is unix seconds given by the caller.

use crate::error::CoreError;
use hmac::digest::Key;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The TOTP time step in seconds (RFC 6238's default, the one authenticator apps assume).
pub const STEP_SECONDS: i64 = 30;

/// The length of a secret in bytes: SHA-1's output size, as RFC 4226 §4 recommends.
pub const SECRET_LEN: usize = 20;

/// The shortest secret a provisioning URI is made for (RFC 4226 §4 R6: 128 bits).
pub const MIN_SECRET_LEN: usize = 16;

/// The widest drift window `verify` searches: each step costs one HMAC and adds one
/// more code an attacker may hit, so a misconfigured window must not grow unbounded.
pub const MAX_DRIFT_STEPS: u32 = 10;

/// The number of digits of a code: 6, 7 or 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Digits(u8);

impl Digits {
    /// Six digits, what every authenticator app supports.
    pub const SIX: Digits = Digits(6);
    /// Eight digits, the length of the RFC 6238 test vectors.
    pub const EIGHT: Digits = Digits(8);

    /// `n` digits, if `n` is 6 to 8: fewer is too easy to guess, and apps stop at 8.
    pub fn new(n: u32) -> Result<Digits, CoreError> {
        match n {
            6..=8 => Ok(Digits(n as u8)),
            _ => Err(CoreError::invalid("digits", "must be 6, 7 or 8")),
        }
    }

    /// The digit count.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }
}

impl Default for Digits {
    fn default() -> Self {
        Digits::SIX
    }
}

impl TryFrom<u32> for Digits {
    type Error = CoreError;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        Digits::new(n)
    }
}

impl From<Digits> for u32 {
    fn from(digits: Digits) -> u32 {
        digits.get()
    }
}

/// The HOTP code of `secret` at `counter` (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: Digits) -> String {
    let mut mac = <HmacSha1 as Mac>::new(&block_key(secret));
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // Dynamic truncation: the low nibble of the last byte picks four bytes, and the top
    // bit is dropped so that signed and unsigned implementations agree.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    let code = binary % 10u32.pow(digits.get());
    format!("{code:0width$}", width = usize::from(digits.0))
}

/// The secret as HMAC's one-block key (RFC 2104 §2: a longer key is hashed first, a
/// shorter one zero-padded). The hmac crate does the same in `new_from_slice`, which
/// returns a `Result` that is never an error; building the block here lets us call the
/// infallible `new` instead of handling an impossible failure.
fn block_key(secret: &[u8]) -> Key<HmacSha1> {
    let mut key = Key::<HmacSha1>::default();
    if secret.len() <= key.len() {
        key[..secret.len()].copy_from_slice(secret);
    } else {
        let hashed = Sha1::digest(secret);
        key[..hashed.len()].copy_from_slice(&hashed);
    }
    key
}

/// The TOTP step of an instant: whole 30-second periods since 1970 (RFC 6238 §4.2).
pub fn totp_step(at_unix_seconds: i64) -> i64 {
    // Floored, so an instant before 1970 does not share step 0 with the first 30 s.
    at_unix_seconds.div_euclid(STEP_SECONDS)
}

/// The 6-digit TOTP code of `secret` at `at_unix_seconds`.
pub fn totp_at(secret: &[u8], at_unix_seconds: i64) -> String {
    totp_at_digits(secret, at_unix_seconds, Digits::SIX)
}

/// The TOTP code of `secret` at `at_unix_seconds` with `digits` digits.
pub fn totp_at_digits(secret: &[u8], at_unix_seconds: i64, digits: Digits) -> String {
    step_code(secret, totp_step(at_unix_seconds), digits)
}

fn step_code(secret: &[u8], step: i64, digits: Digits) -> String {
    // The HOTP counter is unsigned; a step before 1970 wraps like RFC 6238's reference
    // code. No till lives there, and verifying stays consistent with generating.
    hotp(secret, step as u64, digits)
}

/// Why a presented code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtpRefusal {
    /// No step in the drift window has this code.
    Invalid,
    /// The code is right but its step is not after the last step used: a replay, or an
    /// older code presented after a newer one.
    Used,
}

impl OtpRefusal {
    /// The wire code of the refusal.
    pub fn as_str(self) -> &'static str {
        match self {
            OtpRefusal::Invalid => "code_invalid",
            OtpRefusal::Used => "code_used",
        }
    }
}

/// Judges a 6-digit `code` at `at_unix_seconds`: the step it matched, which the caller
/// stores as the customer's new `last_used_step`, or why it is refused.
pub fn verify(
    secret: &[u8],
    code: &str,
    at_unix_seconds: i64,
    drift_steps: u32,
    last_used_step: Option<i64>,
) -> Result<i64, OtpRefusal> {
    verify_digits(
        secret,
        code,
        Digits::SIX,
        at_unix_seconds,
        drift_steps,
        last_used_step,
    )
}

/// Judges a `code` of `digits` digits at `at_unix_seconds`, accepting the steps up to
/// `drift_steps` (at most `MAX_DRIFT_STEPS`) either side of the current one.
pub fn verify_digits(
    secret: &[u8],
    code: &str,
    digits: Digits,
    at_unix_seconds: i64,
    drift_steps: u32,
    last_used_step: Option<i64>,
) -> Result<i64, OtpRefusal> {
    // The length is checked against the program's setting, never taken from the code:
    // otherwise the last 6 digits of an 8-digit code would pass as a 6-digit one.
    if code.len() != usize::from(digits.0) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(OtpRefusal::Invalid);
    }
    let now = totp_step(at_unix_seconds);
    let drift = i64::from(drift_steps.min(MAX_DRIFT_STEPS));
    let mut fresh = None;
    let mut stale = false;
    // Every step of the window is computed and compared in constant time, so the time
    // taken tells nothing about how many digits of a guess were right.
    for step in now.saturating_sub(drift)..=now.saturating_add(drift) {
        let expected = step_code(secret, step, digits);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            if last_used_step.is_some_and(|last| step <= last) {
                stale = true;
            } else {
                // The latest fresh step wins, so that a (one in a million) repeat of the
                // same code in the window still burns every step up to the newest.
                fresh = Some(step);
            }
        }
    }
    match (fresh, stale) {
        (Some(step), _) => Ok(step),
        (None, true) => Err(OtpRefusal::Used),
        (None, false) => Err(OtpRefusal::Invalid),
    }
}

/// The throttle on wrong codes: `max_failures` failures within `window_seconds` lock
/// further attempts for `lockout_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    pub max_failures: u32,
    pub window_seconds: i64,
    pub lockout_seconds: i64,
}

impl Default for Throttle {
    /// Five wrong codes in five minutes lock for fifteen: a guesser gets about 500 tries
    /// a day against a one-in-a-million code, and a customer's typo or two never locks.
    fn default() -> Self {
        Throttle {
            max_failures: 5,
            window_seconds: 300,
            lockout_seconds: 900,
        }
    }
}

/// What the throttle remembers of one customer between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottleState {
    /// Wrong codes in the current window.
    pub failures: u32,
    /// When the first failure of the current window happened, unix seconds.
    pub window_started_at: Option<i64>,
    /// Attempts are refused before this instant, unix seconds.
    pub locked_until: Option<i64>,
}

/// Whether a code may be judged now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Allowed,
    /// Locked: try again in `retry_after` seconds.
    Refused {
        retry_after: i64,
    },
}

impl Throttle {
    /// Checks the settings: every number must be positive.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.max_failures == 0 {
            return Err(CoreError::invalid("max_failures", "must be positive"));
        }
        if self.window_seconds <= 0 {
            return Err(CoreError::invalid("window_seconds", "must be positive"));
        }
        if self.lockout_seconds <= 0 {
            return Err(CoreError::invalid("lockout_seconds", "must be positive"));
        }
        Ok(())
    }

    /// Whether an attempt at `at` may be judged.
    pub fn check(&self, state: &ThrottleState, at: i64) -> Attempt {
        match state.locked_until {
            Some(until) if at < until => Attempt::Refused {
                retry_after: until.saturating_sub(at),
            },
            _ => Attempt::Allowed,
        }
    }

    /// Counts a wrong code at `at`, locking when it is one too many; answers whether the
    /// next attempt is allowed.
    pub fn record_failure(&self, state: &mut ThrottleState, at: i64) -> Attempt {
        if let refused @ Attempt::Refused { .. } = self.check(state, at) {
            // An attempt during a lock is never judged, so it neither counts nor
            // extends the lock: the customer gets a definite time to come back.
            return refused;
        }
        let in_window = state
            .window_started_at
            .is_some_and(|start| at.saturating_sub(start) < self.window_seconds);
        if !in_window {
            state.failures = 0;
            state.window_started_at = Some(at);
        }
        state.failures = state.failures.saturating_add(1);
        if state.failures >= self.max_failures {
            // After the lock the count starts afresh rather than locking on the next typo.
            *state = ThrottleState {
                failures: 0,
                window_started_at: None,
                locked_until: Some(at.saturating_add(self.lockout_seconds)),
            };
        }
        self.check(state, at)
    }

    /// Forgets the failures after a right code.
    pub fn record_success(&self, state: &mut ThrottleState) {
        *state = ThrottleState::default();
    }
}

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// `bytes` in RFC 4648 base32, upper-case and without `=` padding, as `otpauth://`
/// URIs carry secrets.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    // Fewer than 13 bits are ever pending, so a u32 buffer never loses any.
    let mut buffer: u32 = 0;
    let mut n_bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        n_bits += 8;
        while n_bits >= 5 {
            n_bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[(buffer >> n_bits) as usize & 31],
            ));
        }
    }
    if n_bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[(buffer << (5 - n_bits)) as usize & 31],
        ));
    }
    out
}

/// The bytes of RFC 4648 base32 `text`, upper- or lower-case, with or without `=`
/// padding; anything that is not exactly the encoding of some bytes is refused.
pub fn base32_decode(text: &str) -> Result<Vec<u8>, CoreError> {
    let body = text.trim_end_matches('=');
    // 1, 3 or 6 characters after the last full group of 8 encode no whole byte.
    if matches!(body.len() % 8, 1 | 3 | 6) {
        return Err(CoreError::invalid(
            "secret",
            "is not base32: impossible length",
        ));
    }
    let mut out = Vec::with_capacity(body.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut n_bits: u32 = 0;
    for byte in body.bytes() {
        let value = match byte.to_ascii_uppercase() {
            upper @ b'A'..=b'Z' => upper - b'A',
            digit @ b'2'..=b'7' => digit - b'2' + 26,
            _ => return Err(CoreError::invalid("secret", "is not base32: bad character")),
        };
        buffer = (buffer << 5) | u32::from(value);
        n_bits += 5;
        if n_bits >= 8 {
            n_bits -= 8;
            out.push((buffer >> n_bits) as u8);
        }
    }
    // Leftover bits must be zero, so that every byte string has exactly one encoding.
    if buffer & ((1 << n_bits) - 1) != 0 {
        return Err(CoreError::invalid("secret", "is not base32: stray bits"));
    }
    Ok(out)
}

/// The `otpauth://totp/` URI an authenticator app is provisioned with (the Key URI
/// format): label `issuer:account`, each part percent-encoded.
pub fn provisioning_uri(
    issuer: &str,
    account: &str,
    secret: &[u8],
    digits: Digits,
) -> Result<String, CoreError> {
    // A colon in either part would make apps split the label in the wrong place.
    for (field, value) in [("issuer", issuer), ("account", account)] {
        if value.is_empty() || value.contains(':') {
            return Err(CoreError::invalid(field, "must be non-empty without ':'"));
        }
    }
    if secret.len() < MIN_SECRET_LEN {
        return Err(CoreError::invalid("secret", "must be at least 16 bytes"));
    }
    let issuer = percent_encode(issuer);
    Ok(format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&period={STEP_SECONDS}&digits={digits}",
        account = percent_encode(account),
        secret = base32_encode(secret),
        digits = digits.get(),
    ))
}

/// Percent-encodes all but RFC 3986's unreserved characters. A space becomes `%20`,
/// never `+`, which apps read the same in the label and in the query.
fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}
