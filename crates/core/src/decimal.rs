//! Exact parsing of JSON decimal numbers into fixed-point integers.
//!
//! Quantities (`0.532` kg) and percents (`12.5`) arrive as JSON numbers. They are
//! parsed from their decimal text, never through a float, into integers scaled by a
//! power of ten, so `0.532` with three decimals is exactly `532`.

use std::fmt;

/// Why a decimal text could not be read as a fixed-point number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a plain decimal number.
    NotANumber,
    /// More fractional digits than allowed.
    TooPrecise { max_decimals: u32 },
    /// Out of the range an `i64` can hold after scaling.
    TooLarge,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecimalError::NotANumber => write!(f, "not a decimal number"),
            DecimalError::TooPrecise { max_decimals } => {
                write!(f, "at most {max_decimals} decimals are allowed")
            }
            DecimalError::TooLarge => write!(f, "number is too large"),
        }
    }
}

/// Parses decimal text such as `-12.50`, `3`, `0.532` or `1e2` into an integer scaled
/// by `10^decimals`.
pub fn parse_scaled(text: &str, decimals: u32) -> Result<i64, DecimalError> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(pos) => {
            let exp: i32 = text[pos + 1..]
                .parse()
                .map_err(|_| DecimalError::NotANumber)?;
            (&text[..pos], exp)
        }
        None => (text, 0),
    };
    let (negative, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(DecimalError::NotANumber);
    }
    if !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
    {
        return Err(DecimalError::NotANumber);
    }
    let mut all_digits = String::with_capacity(int_part.len() + frac_part.len());
    all_digits.push_str(int_part);
    all_digits.push_str(frac_part);
    // value = all_digits * 10^(exponent - frac_len); we want value * 10^decimals.
    let shift = exponent as i64 - frac_part.len() as i64 + decimals as i64;
    let trimmed = all_digits.trim_start_matches('0');
    let mut value: i128 = 0;
    for c in trimmed.chars() {
        value = value * 10 + (c as u8 - b'0') as i128;
        if value > i64::MAX as i128 * 10 {
            return Err(DecimalError::TooLarge);
        }
    }
    if shift >= 0 {
        for _ in 0..shift {
            value *= 10;
            if value > i64::MAX as i128 {
                return Err(DecimalError::TooLarge);
            }
        }
    } else {
        let divisor = 10i128.checked_pow((-shift) as u32).unwrap_or(i128::MAX);
        if value % divisor != 0 {
            return Err(DecimalError::TooPrecise {
                max_decimals: decimals,
            });
        }
        value /= divisor;
    }
    if value > i64::MAX as i128 {
        return Err(DecimalError::TooLarge);
    }
    let value = value as i64;
    Ok(if negative { -value } else { value })
}

/// Formats a scaled integer back as decimal text with trailing zeros removed.
pub fn format_scaled(value: i64, decimals: u32) -> String {
    let scale = 10i64.pow(decimals);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let int_part = abs / scale as u64;
    let frac_part = abs % scale as u64;
    if frac_part == 0 {
        return format!("{sign}{int_part}");
    }
    let frac = format!("{:0width$}", frac_part, width = decimals as usize);
    format!("{sign}{int_part}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            ("1", 3, Ok(1000)),
            ("0.532", 3, Ok(532)),
            ("2.5", 3, Ok(2500)),
            ("-1.25", 2, Ok(-125)),
            ("1e2", 2, Ok(10000)),
            ("1.5E-1", 3, Ok(150)),
            (
                "0.0001",
                3,
                Err(DecimalError::TooPrecise { max_decimals: 3 }),
            ),
            ("abc", 3, Err(DecimalError::NotANumber)),
            ("", 3, Err(DecimalError::NotANumber)),
            ("1.", 3, Ok(1000)),
            ("99999999999999999999", 3, Err(DecimalError::TooLarge)),
        ];
        for (text, decimals, expected) in cases {
            assert_eq!(parse_scaled(text, decimals), expected, "{text}");
        }
    }

    #[test]
    fn format_round_trips() {
        for (value, text) in [(532, "0.532"), (1000, "1"), (2500, "2.5"), (-125, "-0.125")] {
            assert_eq!(format_scaled(value, 3), text);
            assert_eq!(parse_scaled(text, 3), Ok(value));
        }
    }
}
