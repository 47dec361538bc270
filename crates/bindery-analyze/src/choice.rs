//! The analyzers an instance offers, by name: its default, the built-in offline one, and any others the operator
//! named so that projects can choose among them.
//!
//! Projects choose by name only. Providers, keys and prices stay in the instance's configuration, so a project owner
//! can move their books to a model (or back to the free offline analyzer) without ever seeing a key or pointing the
//! instance at an address of their own.

use crate::{Analyzer, Offline, ProviderStatus};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The name of the built-in analyzer, offered by every instance.
pub const OFFLINE: &str = "offline";

/// One analyzer as listed to projects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AnalyzerInfo {
    /// What a project sets to choose it.
    pub name: String,
    /// What it is: `offline`, or `openai-compatible:<model>`.
    pub analyzer: String,
    /// Whether it is the instance's default.
    pub default: bool,
}

/// The instance's default analyzer and its named ones. `offline` is always among the names.
#[derive(Clone)]
pub struct Analyzers {
    default: Arc<dyn Analyzer>,
    named: BTreeMap<String, Arc<dyn Analyzer>>,
}

impl std::fmt::Debug for Analyzers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzers").field("default", &self.default.name()).field("named", &self.names()).finish()
    }
}

impl Default for Analyzers {
    fn default() -> Self {
        Self::new(Arc::new(Offline))
    }
}

impl Analyzers {
    /// `default` for projects that choose nothing, and the built-in offline analyzer under its name.
    pub fn new(default: Arc<dyn Analyzer>) -> Self {
        // An offline default is the offline name itself, so "which one is the default" is one identity check.
        let offline: Arc<dyn Analyzer> = if default.name() == OFFLINE { default.clone() } else { Arc::new(Offline) };
        let named = BTreeMap::from([(OFFLINE.to_owned(), offline)]);
        Self { default, named }
    }

    /// Offers `analyzer` under `name`, or says why the name cannot be used.
    pub fn with(mut self, name: &str, analyzer: Arc<dyn Analyzer>) -> Result<Self, String> {
        check_name(name)?;
        if self.named.contains_key(name) {
            return Err(format!("analyzer name {name:?} is taken (\"offline\" is the built-in analyzer)"));
        }
        self.named.insert(name.to_owned(), analyzer);
        Ok(self)
    }

    /// The analyzer called `name`, or the default for `None`; `None` when the instance has no such name.
    pub fn get(&self, name: Option<&str>) -> Option<&Arc<dyn Analyzer>> {
        match name {
            None => Some(&self.default),
            Some(n) => self.named.get(n),
        }
    }

    /// Whether a project may choose `name`.
    pub fn offers(&self, name: &str) -> bool {
        self.named.contains_key(name)
    }

    /// The names a project may choose, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.named.keys().map(String::as_str).collect()
    }

    /// Every named analyzer, for listing. `default` marks the named one that is the default analyzer itself, when
    /// the default is one of them.
    pub fn list(&self) -> Vec<AnalyzerInfo> {
        self.named
            .iter()
            .map(|(name, a)| AnalyzerInfo {
                name: name.clone(),
                analyzer: a.name().to_owned(),
                default: Arc::ptr_eq(a, &self.default),
            })
            .collect()
    }

    /// The default's name as the analyzer reports it (`offline`, `openai-compatible:<model>`).
    pub fn default_name(&self) -> &str {
        self.default.name()
    }

    /// The remote providers of every analyzer offered, the default's first; an analyzer offered both as the
    /// default and by name is listed once.
    pub fn providers(&self) -> Vec<ProviderStatus> {
        let mut seen: Vec<&Arc<dyn Analyzer>> = vec![&self.default];
        for a in self.named.values() {
            if !seen.iter().any(|s| Arc::ptr_eq(s, a)) {
                seen.push(a);
            }
        }
        seen.into_iter().flat_map(|a| a.providers()).collect()
    }
}

/// Names are what URLs, config tables and forms carry: short, lower-case, no spaces.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "analyzer name {name:?} must be 1 to 64 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Analysis, AnalyzeContext, AnalyzeError};
    use async_trait::async_trait;
    use bindery_core::book::Book;

    struct Named(&'static str);

    #[async_trait]
    impl Analyzer for Named {
        fn name(&self) -> &str {
            self.0
        }
        async fn analyze(&self, _: Arc<Book>, _: &AnalyzeContext) -> Result<Analysis, AnalyzeError> {
            Err(AnalyzeError::Permanent("not used".into()))
        }
        fn providers(&self) -> Vec<ProviderStatus> {
            vec![ProviderStatus { provider: "p".into(), model: self.0.into(), breaker: "closed".into() }]
        }
    }

    #[test]
    fn offline_is_always_offered_and_none_means_the_default() {
        let model: Arc<dyn Analyzer> = Arc::new(Named("openai-compatible:big"));
        let a = Analyzers::new(model.clone()).with("big", model).unwrap();
        assert_eq!(a.names(), ["big", "offline"]);
        assert_eq!(a.get(None).unwrap().name(), "openai-compatible:big");
        assert_eq!(a.get(Some("offline")).unwrap().name(), "offline");
        assert!(a.get(Some("small")).is_none() && !a.offers("small"));
        let listed = a.list();
        assert_eq!(
            listed.iter().map(|i| (i.name.as_str(), i.default)).collect::<Vec<_>>(),
            [("big", true), ("offline", false)]
        );
        // The default offered by name too has one breaker, listed once.
        assert_eq!(a.providers().len(), 1);
    }

    #[test]
    fn names_are_checked_and_not_taken_twice() {
        let a = Analyzers::default();
        assert!(a.list()[0].default, "the offline default is the offline name");
        let small: Arc<dyn Analyzer> = Arc::new(Named("openai-compatible:small"));
        assert!(a.clone().with("offline", small.clone()).unwrap_err().contains("taken"));
        for bad in ["", "Big", "a b", "-x", &"x".repeat(65)] {
            assert!(a.clone().with(bad, small.clone()).is_err(), "{bad:?} accepted");
        }
        let a = a.with("small-2.1", small).unwrap();
        assert_eq!(a.providers().len(), 1);
        assert_eq!(a.default_name(), "offline");
    }
}
