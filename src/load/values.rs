//! Judging one CSV value against a column, and guessing a type from values for preview.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};

pub use crate::load::Guess;
use crate::load::ValueKind;

const NAIVE_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"];

/// The value as the staging table should get it, or why the column cannot take it.
pub fn check(kind: ValueKind, raw: &str) -> Result<Cow<'_, str>, String> {
    let v = raw.trim();
    match kind {
        ValueKind::Integer { min, max } => match v.parse::<i128>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Cow::Borrowed(v)),
            Ok(_) => Err(format!("out of range for the column ({min} to {max})")),
            Err(_) => Err("not an integer".into()),
        },
        ValueKind::Decimal => match v.parse::<f64>() {
            Ok(f) if f.is_finite() && !v.contains(['x', 'X']) => Ok(Cow::Borrowed(v)),
            _ => Err("not a number".into()),
        },
        ValueKind::Boolean => match v.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "on" => Ok(Cow::Borrowed("1")),
            "false" | "f" | "no" | "n" | "0" | "off" => Ok(Cow::Borrowed("0")),
            _ => Err("not a boolean (true/false, t/f, yes/no, 1/0)".into()),
        },
        ValueKind::Date => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|_| Cow::Borrowed(v))
            .map_err(|_| "not a date (YYYY-MM-DD)".into()),
        ValueKind::Timestamp { zone } => timestamp(v, zone)
            .ok_or_else(|| "not a timestamp (YYYY-MM-DD HH:MM[:SS[.fff]], optionally with T and a UTC offset)".into()),
        ValueKind::Time => ["%H:%M:%S%.f", "%H:%M"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(v, f).ok())
            .map(|_| Cow::Borrowed(v))
            .ok_or_else(|| "not a time of day (HH:MM[:SS])".into()),
        ValueKind::Uuid => uuid::Uuid::parse_str(v).map(|_| Cow::Borrowed(v)).map_err(|_| "not a UUID".into()),
        ValueKind::Json => serde_json::from_str::<serde_json::Value>(raw)
            .map(|_| Cow::Borrowed(raw))
            .map_err(|e| format!("not valid JSON ({e})")),
        ValueKind::Text { max_chars } => {
            if raw.contains('\0') {
                return Err("contains a NUL character, which text columns cannot store".into());
            }
            match max_chars {
                Some(max) if raw.chars().count() > max as usize => {
                    Err(format!("{} characters, longer than the column's {max}", raw.chars().count()))
                }
                _ => Ok(Cow::Borrowed(raw)),
            }
        }
        ValueKind::Other => Ok(Cow::Borrowed(raw)),
    }
}

/// A timestamp with or without an offset; for a column without a zone, an offset is applied
/// (converted to UTC) rather than silently dropped. A value with an offset for a column with a
/// zone passes as written once it parses (the hot path of large loads).
fn timestamp(v: &str, zone: bool) -> Option<Cow<'_, str>> {
    // The common shapes pass as written, checked by hand: chrono's format parser was the slowest
    // part of a large load.
    if let Some(offset_at) = iso_timestamp(v) {
        let has_offset = offset_at < v.len();
        if (has_offset && zone) || (!has_offset && v.as_bytes()[10] == b' ') {
            return Some(Cow::Borrowed(v));
        }
    }
    // An offset follows the time: `Z`, or a sign after the date's own dashes.
    let has_offset = v.ends_with(['Z', 'z']) || v.get(10..).is_some_and(|t| t.contains(['+', '-']));
    if !has_offset {
        let naive = NAIVE_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())?;
        return Some(Cow::Owned(naive.format("%Y-%m-%d %H:%M:%S%.f").to_string()));
    }
    let with_offset = DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f%#z")
        .or_else(|_| DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f%#z"))
        .or_else(|_| DateTime::parse_from_rfc3339(v))
        .ok()?;
    if zone {
        Some(Cow::Borrowed(v))
    } else {
        Some(Cow::Owned(with_offset.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string()))
    }
}

/// `YYYY-MM-DD[ T]HH:MM[:SS[.fraction]]`, then nothing, `Z` or `±HH[[:]MM]`, with real dates and
/// times: where the offset starts (the length when there is none).
fn iso_timestamp(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    let number = |from: usize, to: usize| -> Option<u32> {
        let digits = b.get(from..to)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    if b.len() < 16 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') || b[13] != b':' {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute) = (number(11, 13)?, number(14, 16)?);
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = number(17, 19)?;
        i = 19;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || i - start > 9 {
                return None;
            }
        }
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)?;
    NaiveTime::from_hms_opt(hour, minute, second)?;
    let offset_ok = match &b[i..] {
        [] | [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, rest @ ..] if h1.is_ascii_digit() && h2.is_ascii_digit() => {
            let hours = u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0');
            let minutes = match rest {
                [] => Some(0),
                [b':', m1, m2] | [m1, m2] if m1.is_ascii_digit() && m2.is_ascii_digit() => {
                    Some(u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0'))
                }
                _ => None,
            };
            hours < 24 && minutes.is_some_and(|m| m < 60)
        }
        _ => false,
    };
    offset_ok.then_some(i)
}

/// The narrowest type one value fits.
pub fn guess(raw: &str) -> Guess {
    let v = raw.trim();
    if let Ok(n) = v.parse::<i64>() {
        return if i32::try_from(n).is_ok() { Guess::Integer } else { Guess::Bigint };
    }
    if matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
        return Guess::Boolean;
    }
    if check(ValueKind::Decimal, v).is_ok() {
        return Guess::Decimal;
    }
    if NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() {
        return Guess::Date;
    }
    if NAIVE_FORMATS.iter().any(|f| NaiveDateTime::parse_from_str(v, f).is_ok()) {
        return Guess::Timestamp;
    }
    if timestamp(v, true).is_some() {
        return Guess::Timestamptz;
    }
    if uuid::Uuid::parse_str(v).is_ok() && v.len() == 36 {
        return Guess::Uuid;
    }
    Guess::Text
}

/// A value [`guess`] takes for a date or timestamp, as a BSON date (UTC milliseconds): a date
/// is its midnight, a time without an offset is read as UTC.
pub fn bson_date(raw: &str) -> Option<mongodb::bson::DateTime> {
    let v = raw.trim();
    let b = v.as_bytes();
    // Cheap first: every value of a collection load comes through here.
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let utc = if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        d.and_hms_opt(0, 0, 0)?.and_utc()
    } else if let Some(n) = NAIVE_FORMATS.iter().find_map(|f| NaiveDateTime::parse_from_str(v, f).ok()) {
        n.and_utc()
    } else {
        DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S%.f%#z")
            .or_else(|_| DateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f%#z"))
            .or_else(|_| DateTime::parse_from_rfc3339(v))
            .ok()?
            .to_utc()
    };
    Some(mongodb::bson::DateTime::from_millis(utc.timestamp_millis()))
}

/// The type that holds both: the wider of two numbers or two timestamps, otherwise text.
pub fn widen(a: Guess, b: Guess) -> Guess {
    use Guess::*;
    match (a.min(b), a.max(b)) {
        (x, y) if x == y => x,
        (Integer, Bigint) => Bigint,
        (Integer | Bigint, Decimal) => Decimal,
        (Timestamp, Timestamptz) => Timestamptz,
        (Date, Timestamp) => Timestamp,
        (Date, Timestamptz) => Timestamptz,
        _ => Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_checked_against_the_column_range() {
        let int2 = ValueKind::Integer { min: -32768, max: 32767 };
        assert_eq!(check(int2, " 42 ").unwrap(), "42");
        assert!(check(int2, "40000").unwrap_err().contains("out of range"));
        assert_eq!(check(int2, "4.5").unwrap_err(), "not an integer");
    }

    #[test]
    fn booleans_dates_and_timestamps_are_normalised() {
        assert_eq!(check(ValueKind::Boolean, "Yes").unwrap(), "1");
        assert!(check(ValueKind::Boolean, "maybe").is_err());
        assert!(check(ValueKind::Date, "2024-02-30").is_err());
        assert_eq!(check(ValueKind::Date, "2024-02-29").unwrap(), "2024-02-29");
        let naive = ValueKind::Timestamp { zone: false };
        assert_eq!(check(naive, "2024-01-02T03:04:05+02:00").unwrap(), "2024-01-02 01:04:05");
        assert_eq!(check(naive, "2024-01-02 03:04").unwrap(), "2024-01-02 03:04", "the usual shapes pass as written");
        assert!(
            check(ValueKind::Timestamp { zone: true }, "2024-01-02T03:04:05Z")
                .unwrap()
                .starts_with("2024-01-02T03:04:05")
        );
        assert!(check(naive, "yesterday").is_err());
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let short = ValueKind::Text { max_chars: Some(3) };
        assert!(check(short, "äöü").is_ok());
        assert!(check(short, "abcd").unwrap_err().contains("longer than the column's 3"));
        assert!(check(ValueKind::Text { max_chars: None }, "a\0b").is_err());
    }

    #[test]
    fn numbers_json_and_uuids() {
        assert!(check(ValueKind::Decimal, "1e3").is_ok());
        assert!(check(ValueKind::Decimal, "inf").is_err());
        assert!(check(ValueKind::Decimal, "12abc").is_err());
        assert!(check(ValueKind::Json, "{\"a\": 1}").is_ok());
        assert!(check(ValueKind::Json, "{a: 1}").is_err());
        assert!(check(ValueKind::Uuid, "not-a-uuid").is_err());
    }

    #[test]
    fn guesses_widen_to_what_holds_every_value() {
        assert_eq!(guess("12"), Guess::Integer);
        assert_eq!(guess("12345678901"), Guess::Bigint);
        assert_eq!(guess("1.5"), Guess::Decimal);
        assert_eq!(guess("2024-01-01"), Guess::Date);
        assert_eq!(guess("2024-01-01 10:00:00"), Guess::Timestamp);
        assert_eq!(guess("hello"), Guess::Text);
        assert_eq!(widen(Guess::Integer, Guess::Decimal), Guess::Decimal);
        assert_eq!(widen(Guess::Date, Guess::Integer), Guess::Text);
    }
}
