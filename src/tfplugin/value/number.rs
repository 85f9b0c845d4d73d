//! cty numbers: arbitrary-precision decimals that keep the form they arrived in.
//!
//! Terraform's numbers are big decimals. Its msgpack encoder sends a number as an
//! integer when it fits an `i64`, as a float when an `f64` holds it exactly, and
//! otherwise as a string of decimal text; state JSON carries plain JSON numbers of any
//! length. [`Number`] stores each of these without loss and compares numbers by value,
//! whatever their form.
//!
//! Whole numbers go back out as decimal text, the form Terraform reads from its state
//! file: Terraform 1.10 to 1.14 compare a refreshed state with the one read from disk
//! field by field (`reflect.DeepEqual`, precision included), and an integer decoded
//! from msgpack (64-bit) never equals the same integer parsed from JSON text (512-bit),
//! so every `plan -refresh-only -detailed-exitcode` reported a change.

use std::fmt;
use std::str::FromStr;

/// A Terraform (cty) number.
///
/// Holds an `i64`, a finite-or-infinite `f64` (never NaN) or an exact decimal for
/// anything else (e.g. 2^64, or `0.1000000000000000000001`). Equality is numeric:
/// `Number::from(1) == Number::from_f64(1.0).unwrap()` and
/// `"1.50".parse::<Number>() == "1.5".parse::<Number>()`.
#[derive(Clone)]
pub struct Number(Repr);

#[derive(Clone)]
enum Repr {
    Int(i64),
    /// Never NaN (rejected on construction): cty has no NaN.
    Float(f64),
    /// Only for values that are not an `i64` integer (those become `Int`).
    Decimal(Decimal),
}

/// A non-zero decimal `(-1)^negative × digits × 10^exponent` in lowest terms: `digits`
/// is ASCII digits with neither leading nor trailing zeros.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

/// The numeric value of a [`Number`], used for equality and formatting.
#[derive(Debug, PartialEq, Eq)]
enum Canonical {
    Zero,
    Finite(Decimal),
    Infinite { negative: bool },
}

/// Why a text could not be read as a number. It does not repeat the text, which
/// might be something sensitive sent in the wrong place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("text of {length} bytes is not a decimal number")]
pub struct ParseNumberError {
    length: usize,
}

/// Exponents are capped well inside i64 so arithmetic on them can never overflow;
/// no real number needs more than a few hundred.
const MAX_EXPONENT_DIGITS: usize = 9;

impl Number {
    /// A number from a float; `None` for NaN, which cty cannot represent.
    pub fn from_f64(f: f64) -> Option<Number> {
        (!f.is_nan()).then_some(Number(Repr::Float(f)))
    }

    /// The value as an `i64`, when it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.0 {
            Repr::Int(i) => Some(*i),
            // -2^63 and 2^63 are exact f64 values; the half-open range is exactly i64's.
            Repr::Float(f)
                if f.fract() == 0.0 && *f >= i64::MIN as f64 && *f < -(i64::MIN as f64) =>
            {
                Some(*f as i64)
            }
            // A decimal that is an integer in i64 range would have been stored as Int.
            _ => None,
        }
    }

    /// The value as an `f64`, rounded to the nearest float when not exact.
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::Int(i) => *i as f64,
            Repr::Float(f) => *f,
            // Canonical text is always valid float syntax; the fallback cannot happen.
            Repr::Decimal(d) => d.to_string().parse().unwrap_or(f64::NAN),
        }
    }

    /// True for whole numbers (of any size).
    pub fn is_integer(&self) -> bool {
        match self.canonical() {
            Canonical::Zero => true,
            Canonical::Finite(d) => d.exponent >= 0,
            Canonical::Infinite { .. } => false,
        }
    }

    /// True for positive or negative infinity (which JSON cannot carry).
    pub fn is_infinite(&self) -> bool {
        matches!(self.0, Repr::Float(f) if f.is_infinite())
    }

    /// The form to put on the msgpack wire: cty reads integers, floats and strings.
    /// Integers go as text (see the module docs); a float stays a float, since its
    /// shortest text could name another number.
    pub(super) fn to_msgpack(&self) -> rmpv::Value {
        match &self.0 {
            Repr::Int(i) => rmpv::Value::from(i.to_string()),
            Repr::Float(f) => rmpv::Value::F64(*f),
            Repr::Decimal(d) => rmpv::Value::from(d.to_string()),
        }
    }

    fn canonical(&self) -> Canonical {
        match &self.0 {
            Repr::Int(0) => Canonical::Zero,
            Repr::Int(i) => parse_canonical(&i.to_string()).unwrap_or(Canonical::Zero),
            Repr::Float(f) if f.is_infinite() => Canonical::Infinite { negative: *f < 0.0 },
            // `{:e}` prints the shortest text that reads back as the same float.
            Repr::Float(f) => parse_canonical(&format!("{f:e}")).unwrap_or(Canonical::Zero),
            Repr::Decimal(d) => Canonical::Finite(d.clone()),
        }
    }
}

impl FromStr for Number {
    type Err = ParseNumberError;

    /// Reads decimal text: optional sign, digits with an optional fraction, optional
    /// exponent (`-12`, `0.5`, `1e+30`, `123456789012345678901234567890`).
    fn from_str(s: &str) -> Result<Number, ParseNumberError> {
        match parse_canonical(s) {
            Some(Canonical::Zero) => Ok(Number(Repr::Int(0))),
            Some(Canonical::Finite(d)) => Ok(match d.to_i64() {
                Some(i) => Number(Repr::Int(i)),
                None => Number(Repr::Decimal(d)),
            }),
            // Text never spells infinity; only floats carry it.
            Some(Canonical::Infinite { .. }) | None => Err(ParseNumberError { length: s.len() }),
        }
    }
}

/// Parses decimal text into lowest terms; `None` when it is not a decimal number.
fn parse_canonical(s: &str) -> Option<Canonical> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exp_text) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !all_digits(int_part) || !all_digits(frac_part) {
        return None;
    }
    let mut exponent: i64 = match exp_text {
        None => 0,
        Some(t) => {
            let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
            let significant = unsigned.trim_start_matches('0');
            if unsigned.is_empty()
                || !all_digits(unsigned)
                || significant.len() > MAX_EXPONENT_DIGITS
            {
                return None;
            }
            let magnitude: i64 = if significant.is_empty() {
                0
            } else {
                significant.parse().ok()?
            };
            if t.starts_with('-') {
                -magnitude
            } else {
                magnitude
            }
        }
    };
    exponent = exponent.checked_sub(i64::try_from(frac_part.len()).ok()?)?;
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some(Canonical::Zero);
    }
    exponent = exponent.checked_add(i64::try_from(digits.len() - trimmed.len()).ok()?)?;
    Some(Canonical::Finite(Decimal {
        negative,
        digits: trimmed.to_owned(),
        exponent,
    }))
}

impl Decimal {
    fn to_i64(&self) -> Option<i64> {
        if self.exponent < 0 || self.digits.len() as i64 + self.exponent > 19 {
            return None;
        }
        let magnitude: i128 = format!("{}{}", self.digits, "0".repeat(self.exponent as usize))
            .parse()
            .ok()?;
        i64::try_from(if self.negative { -magnitude } else { magnitude }).ok()
    }
}

impl fmt::Display for Decimal {
    /// Plain notation unless that needs many padding zeros; always valid JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        let len = self.digits.len() as i64;
        // How many digits stand before the decimal point.
        let point = len + self.exponent;
        // Write out every significant digit plainly; only long runs of zeros (before or
        // after the digits) switch to an exponent.
        if self.exponent >= 0 && self.exponent <= 21 {
            write!(f, "{}{}", self.digits, "0".repeat(self.exponent as usize))
        } else if self.exponent < 0 && point > 0 {
            let (int, frac) = self.digits.split_at(point as usize);
            write!(f, "{int}.{frac}")
        } else if self.exponent < 0 && point > -6 {
            write!(f, "0.{}{}", "0".repeat((-point) as usize), self.digits)
        } else {
            let (first, rest) = self.digits.split_at(1);
            let dot = if rest.is_empty() { "" } else { "." };
            write!(f, "{first}{dot}{rest}e{}", point - 1)
        }
    }
}

impl fmt::Display for Number {
    /// Decimal text that Terraform and JSON both read back as the same number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0, self.canonical()) {
            (Repr::Int(i), _) => write!(f, "{i}"),
            (_, Canonical::Zero) => f.write_str("0"),
            (_, Canonical::Finite(d)) => write!(f, "{d}"),
            (_, Canonical::Infinite { negative }) => {
                f.write_str(if negative { "-Infinity" } else { "Infinity" })
            }
        }
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (&self.0, &other.0) {
            (Repr::Int(a), Repr::Int(b)) => a == b,
            _ => self.canonical() == other.canonical(),
        }
    }
}

impl Eq for Number {}

impl From<i64> for Number {
    fn from(i: i64) -> Number {
        Number(Repr::Int(i))
    }
}

impl From<i32> for Number {
    fn from(i: i32) -> Number {
        Number(Repr::Int(i.into()))
    }
}

impl From<u32> for Number {
    fn from(i: u32) -> Number {
        Number(Repr::Int(i.into()))
    }
}

impl From<u64> for Number {
    fn from(u: u64) -> Number {
        match i64::try_from(u) {
            Ok(i) => Number(Repr::Int(i)),
            // Above i64::MAX: cty reads msgpack integers as int64, so keep it as text.
            Err(_) => u.to_string().parse().unwrap_or(Number(Repr::Int(0))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Number {
        s.parse().unwrap()
    }

    #[test]
    fn parses_integers_into_i64_when_they_fit() {
        assert_eq!(n("42").as_i64(), Some(42));
        assert_eq!(n("-9223372036854775808").as_i64(), Some(i64::MIN));
        assert_eq!(n("1.500e1").as_i64(), Some(15));
        assert_eq!(n("1.505e1").as_i64(), None);
        assert_eq!(n("1.0").as_i64(), Some(1));
        assert_eq!(n("9223372036854775808").as_i64(), None);
        assert_eq!(n("9223372036854775808").to_string(), "9223372036854775808");
    }

    #[test]
    fn formats_canonical_text() {
        assert_eq!(n("000123.4500").to_string(), "123.45");
        assert_eq!(n("-0.000001").to_string(), "-0.000001");
        assert_eq!(n("1e-7").to_string(), "1e-7");
        assert_eq!(n("1.5e30").to_string(), "1.5e30");
        assert_eq!(
            n("1234567890123456789012345").to_string(),
            "1234567890123456789012345"
        );
        assert_eq!(
            n("-1.234567890123456789012345e-3").to_string(),
            "-0.001234567890123456789012345"
        );
        assert_eq!(n("+7E+2").to_string(), "700");
        assert_eq!(n("-0").to_string(), "0");
        assert_eq!(Number::from_f64(0.1).unwrap().to_string(), "0.1");
        assert_eq!(Number::from_f64(1e300).unwrap().to_string(), "1e300");
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in [
            "",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "abc",
            "1.2.3",
            "0x10",
            "NaN",
            "1e9999999999",
            " 1",
        ] {
            assert!(bad.parse::<Number>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn equality_is_numeric() {
        assert_eq!(Number::from(3), Number::from_f64(3.0).unwrap());
        assert_eq!(n("0.1"), Number::from_f64(0.1).unwrap());
        assert_ne!(n("0.10000000000000000001"), Number::from_f64(0.1).unwrap());
        assert_eq!(Number::from(u64::MAX), n("18446744073709551615"));
        assert_ne!(Number::from(1), Number::from(2));
        assert!(Number::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn float_conversions() {
        assert_eq!(Number::from_f64(-2.0).unwrap().as_i64(), Some(-2));
        assert_eq!(Number::from_f64(9.3e18).unwrap().as_i64(), None);
        assert_eq!(Number::from_f64(2.5).unwrap().as_i64(), None);
        assert_eq!(n("2.5").to_f64(), 2.5);
        assert!(n("1e400").to_f64().is_infinite());
    }
}
