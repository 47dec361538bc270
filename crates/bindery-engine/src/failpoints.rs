//! Failure injection points, for tests and drills.
//!
//! `BINDERY_FAILPOINTS="count=fail(2);structure=sleep(50)"` makes the
//! `count` stage fail its first two attempts and `structure` sleep 50 ms
//! before running. Actions: `fail(N)` (retryable failure while the attempt
//! is ≤ N), `fail` (every attempt), `permanent` (a permanent failure),
//! `sleep(MS)`, `panic`. Being keyed by attempt number, a fail point behaves
//! the same in every process, which the crash tests rely on. Besides stage
//! names, `delete` (a deletion, before its point of no return) and
//! `delete.blobs` (a deletion, before it deletes blobs) are fail points.

use std::collections::BTreeMap;
use std::time::Duration;

pub const ENV: &str = "BINDERY_FAILPOINTS";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    FailUntil(i32),
    FailAlways,
    Permanent,
    Sleep(Duration),
    Panic,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failpoints(BTreeMap<String, Action>);

impl Failpoints {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = BTreeMap::new();
        for item in spec.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (stage, action) =
                item.split_once('=').ok_or_else(|| format!("fail point {item:?}: expected stage=action"))?;
            let arg = |a: &str| -> Result<u64, String> {
                a.strip_suffix(')')
                    .and_then(|a| a.parse().ok())
                    .ok_or_else(|| format!("fail point {item:?}: bad argument"))
            };
            let action = match action.trim() {
                "fail" => Action::FailAlways,
                "permanent" => Action::Permanent,
                "panic" => Action::Panic,
                a if a.starts_with("fail(") => Action::FailUntil(arg(&a[5..])? as i32),
                a if a.starts_with("sleep(") => Action::Sleep(Duration::from_millis(arg(&a[6..])?)),
                other => return Err(format!("fail point {item:?}: unknown action {other:?}")),
            };
            map.insert(stage.trim().to_owned(), action);
        }
        Ok(Self(map))
    }

    pub fn from_env() -> Result<Self, String> {
        std::env::var(ENV).map(|s| Self::parse(&s)).unwrap_or_else(|_| Ok(Self::default()))
    }

    pub fn get(&self, stage: &str) -> Option<Action> {
        self.0.get(stage).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_action() {
        let f = Failpoints::parse("a=fail(2); b=fail;c=permanent;d=sleep(50);e=panic").unwrap();
        assert_eq!(f.get("a"), Some(Action::FailUntil(2)));
        assert_eq!(f.get("b"), Some(Action::FailAlways));
        assert_eq!(f.get("c"), Some(Action::Permanent));
        assert_eq!(f.get("d"), Some(Action::Sleep(Duration::from_millis(50))));
        assert_eq!(f.get("e"), Some(Action::Panic));
        assert_eq!(f.get("z"), None);
        assert!(Failpoints::parse("a=explode").is_err());
        assert!(Failpoints::parse("a=fail(x)").is_err());
    }
}
