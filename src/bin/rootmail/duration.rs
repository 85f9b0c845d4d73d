//! Human durations for flags: `90s`, `30m`, `12h`, `7d`, `2w`, or sums such
//! as `1d12h`. A bare number is refused, because minutes and days are both
//! plausible readings of it.

use std::time::Duration;

/// Parses a duration such as `30m`, `12h`, `7d` or `1d12h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; use e.g. 30m, 12h or 7d".to_owned());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => {
                return Err(format!(
                    "`{text}` is not a duration: unknown unit `{c}` (use s, m, h, d or w)"
                ))
            }
        };
        if digits.is_empty() {
            return Err(format!("`{text}` is not a duration: `{c}` needs a number"));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration: number too large"))?;
        total = n
            .checked_mul(unit)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "`{text}` needs a unit after {digits} (s, m, h, d or w), e.g. {digits}d"
        ));
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_sums() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(1_209_600)));
    }

    #[test]
    fn refuses_ambiguous_and_malformed() {
        assert!(parse_duration("7").unwrap_err().contains("unit"));
        assert!(parse_duration("7y").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
