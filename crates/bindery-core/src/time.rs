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

#[cfg(test)]
mod tests {
    #[test]
    fn renders_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_500), "1970-01-01T00:00:01.5Z");
    }
}
