//! Time as milliseconds since the Unix epoch.
//!
//! The engine passes "now" into the store explicitly instead of letting SQL
//! call `now()`. That keeps both back ends on one clock representation and
//! lets tests move time forward without sleeping.

/// Milliseconds since the Unix epoch, as stored in every table.
pub type Millis = i64;

/// The current wall-clock time in milliseconds.
pub fn now_ms() -> Millis {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("system clock is after 1970");
    now.as_millis() as Millis
}

/// RFC 3339 rendering with millisecond precision, as CloudEvents' `time`.
pub fn rfc3339(ms: Millis) -> String {
    let t = ::time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(::time::OffsetDateTime::UNIX_EPOCH);
    t.format(&::time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// A deadline as people write it (an RFC 3339 time, or a delay from `now_ms` such as `90m`, `12h`, `2d`), in Unix
/// milliseconds. The API's `?deadline=` and the CLI's `--deadline` take this form.
pub fn parse_deadline(raw: &str, now_ms: Millis) -> Result<Millis, String> {
    let raw = raw.trim();
    if let Ok(t) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
        return Ok((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = number.parse().map_err(|_| format!("deadline {raw:?} is neither an RFC 3339 time nor a delay"))?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("deadline {raw:?}: the delay's unit must be s, m, h or d")),
    };
    n.checked_mul(ms).and_then(|d| d.checked_add(now_ms)).ok_or_else(|| format!("deadline {raw:?} is too far"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::parse_deadline;

    #[test]
    fn deadlines_are_times_or_delays() {
        assert_eq!(parse_deadline("12h", 1_000), Ok(1_000 + 12 * 3_600_000));
        assert_eq!(parse_deadline("90m", 0), Ok(5_400_000));
        assert_eq!(parse_deadline("2026-11-21T18:00:00Z", 0), Ok(1_795_284_000_000));
        assert!(parse_deadline("12 hours", 0).unwrap_err().contains("unit"));
        assert!(parse_deadline("soon", 0).is_err());
        assert!(parse_deadline("99999999999999d", 0).is_err());
    }
}
