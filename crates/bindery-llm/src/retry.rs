//! How long to wait before trying again.
//!
//! A provider that says how long to wait is believed: `retry-after-ms`
//! (OpenAI's own, in milliseconds), `Retry-After` (seconds, or an HTTP
//! date), and, on a 429 without those, OpenAI's `x-ratelimit-reset-requests`
//! and `x-ratelimit-reset-tokens` (durations such as `6m0s` or `20ms`) for
//! whichever budget is exhausted. Otherwise the wait doubles from
//! `backoff_base` with "equal jitter" (half fixed, half random), so that
//! many clients failing at once do not come back at once. Every wait,
//! including one the provider asked for, is capped at `backoff_max`.

use std::time::{Duration, SystemTime};

use bindery_core::retry::RetryPolicy;
use reqwest::header::HeaderMap;

/// The wait before retry number `attempt + 1` (`attempt` counts the failed
/// attempts so far, from 0), given the provider's hint if it sent one.
pub(crate) fn delay(attempt: u32, hint: Option<Duration>, base: Duration, max: Duration) -> Duration {
    if let Some(hint) = hint {
        return hint.min(max);
    }
    // The engine's backoff, with half the wait random ("equal jitter").
    let policy = RetryPolicy { base, max, jitter: 0.5 };
    policy.delay(attempt.min(30) as i32 + 1, &mut rand::thread_rng())
}

/// The provider's hint of how long to wait, read from a failed response's
/// headers. `rate_limited` enables the `x-ratelimit-reset-*` headers, which
/// describe the budgets rather than this failure.
pub(crate) fn hint_from_headers(headers: &HeaderMap, rate_limited: bool, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim);
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    if let Some(hint) = header("retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(hint);
    }
    if !rate_limited {
        return None;
    }
    // Of the two budgets, the one that is exhausted is the one to wait for;
    // when the server does not say which, the longer wait is the safe one.
    let budgets = [("requests", "x-ratelimit-remaining-requests"), ("tokens", "x-ratelimit-remaining-tokens")];
    let resets: Vec<(Duration, bool)> = budgets
        .iter()
        .filter_map(|(budget, remaining)| {
            let reset = parse_go_duration(header(&format!("x-ratelimit-reset-{budget}"))?)?;
            let exhausted = header(remaining).map(|v| v == "0");
            Some((reset, exhausted.unwrap_or(true)))
        })
        .collect();
    let exhausted = resets.iter().filter(|(_, exhausted)| *exhausted).map(|(reset, _)| *reset).max();
    exhausted.or_else(|| resets.iter().map(|(reset, _)| *reset).max())
}

/// `Retry-After`: a number of seconds (integral, though a fraction is
/// accepted) or an HTTP date, which is turned into the time left until it.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A Go-style duration as OpenAI writes its resets: `1s`, `6m0s`, `1h2m3.5s`,
/// `20ms`.
pub(crate) fn parse_go_duration(value: &str) -> Option<Duration> {
    let mut total = 0.0f64;
    let mut rest = value;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    total.is_finite().then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        for _ in 0..100 {
            let first = delay(0, None, base, max);
            assert!(first >= Duration::from_millis(500) && first <= base, "{first:?}");
            let third = delay(2, None, base, max);
            assert!(third >= Duration::from_secs(2) && third <= Duration::from_secs(4), "{third:?}");
            assert!(delay(20, None, base, max) <= max);
        }
    }

    #[test]
    fn a_hint_is_followed_but_capped() {
        let max = Duration::from_secs(60);
        assert_eq!(delay(0, Some(Duration::from_secs(7)), Duration::from_secs(1), max), Duration::from_secs(7));
        assert_eq!(delay(0, Some(Duration::from_secs(600)), Duration::from_secs(1), max), max);
    }

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(Duration::from_millis(3_723_500)));
        assert_eq!(parse_go_duration("3 parsecs"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn hints_from_headers() {
        let now = SystemTime::now();
        let mut headers = HeaderMap::new();
        assert_eq!(hint_from_headers(&headers, true, now), None);

        headers.insert("x-ratelimit-reset-requests", HeaderValue::from_static("2s"));
        headers.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("12"));
        headers.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("6m0s"));
        headers.insert("x-ratelimit-remaining-tokens", HeaderValue::from_static("0"));
        assert_eq!(hint_from_headers(&headers, true, now), Some(Duration::from_secs(360)));
        assert_eq!(hint_from_headers(&headers, false, now), None, "budgets say nothing about a 503");

        headers.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(hint_from_headers(&headers, true, now), Some(Duration::from_secs(3)));
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(hint_from_headers(&headers, false, now), Some(Duration::from_millis(1500)));
    }
}
