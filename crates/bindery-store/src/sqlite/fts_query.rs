//! Turns a user's free-text query into an FTS5 query that cannot be a
//! syntax error.
//!
//! FTS5's query language treats `"`, `(`, `*`, `-`, `:`, `^`, `AND`, `OR`,
//! `NOT` and `NEAR` specially, and a stray one makes `MATCH` fail. Rather
//! than escaping those piecemeal, every word and phrase the user typed is
//! emitted as an FTS5 string (double-quoted, inner quotes doubled), inside
//! which nothing is special; the operators between them are generated here.
//! The accepted syntax mirrors PostgreSQL's `websearch_to_tsquery`, so both
//! back ends read a query the same way: words are ANDed, `"…"` is a phrase,
//! `-x` excludes, `or` between items separates alternatives (binding looser
//! than the implicit AND).

/// One word or phrase as typed, and whether it was negated with `-`.
#[derive(Debug, PartialEq)]
struct Item {
    text: String,
    negated: bool,
}

/// The FTS5 query for `input`, or `None` when nothing searchable is left
/// (empty input, only punctuation, or only exclusions, which FTS5 cannot
/// express on their own).
pub(crate) fn fts5_query(input: &str) -> Option<String> {
    let groups: Vec<String> = alternatives(input).iter().filter_map(|items| render_group(items)).collect();
    (!groups.is_empty()).then(|| groups.join(" OR "))
}

/// Splits `input` into alternatives (separated by `or`), each a list of
/// items that must all hold.
fn alternatives(input: &str) -> Vec<Vec<Item>> {
    let mut groups: Vec<Vec<Item>> = vec![Vec::new()];
    let mut chars = input.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let negated = first == '-';
        if negated {
            chars.next();
        }
        let quoted = chars.next_if_eq(&'"').is_some();
        let mut text = String::new();
        if quoted {
            // A phrase runs to the closing quote, or to the end when the user
            // left it open.
            text.extend(chars.by_ref().take_while(|&c| c != '"'));
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '"') {
                text.push(c);
            }
        }
        if !quoted && !negated && text.eq_ignore_ascii_case("or") {
            if groups.last().is_some_and(|g| !g.is_empty()) {
                groups.push(Vec::new());
            }
            continue;
        }
        // Items without a letter or digit hold no token for FTS5 to match;
        // dropping them keeps `*` or a lone `-` from emptying the results.
        if text.chars().any(char::is_alphanumeric) {
            groups.last_mut().expect("never empty").push(Item { text, negated });
        }
    }
    groups
}

fn render_group(items: &[Item]) -> Option<String> {
    let positive: Vec<String> = items.iter().filter(|i| !i.negated).map(|i| quote(&i.text)).collect();
    if positive.is_empty() {
        return None;
    }
    let mut out = format!("({})", positive.join(" AND "));
    for i in items.iter().filter(|i| i.negated) {
        out.push_str(" NOT ");
        out.push_str(&quote(&i.text));
    }
    Some(format!("({out})"))
}

/// An FTS5 string: everything inside is literal text, to be tokenized.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::fts5_query;

    #[test]
    fn words_are_anded_and_quoted() {
        assert_eq!(fts5_query("cheshire cat").as_deref(), Some(r#"(("cheshire" AND "cat"))"#));
    }

    #[test]
    fn phrases_exclusions_and_alternatives() {
        assert_eq!(
            fts5_query(r#""mad hatter" -tea or queen"#).as_deref(),
            Some(r#"(("mad hatter") NOT "tea") OR (("queen"))"#)
        );
    }

    #[test]
    fn operators_and_stray_syntax_become_plain_text() {
        assert_eq!(fts5_query("AND( NEAR(x").as_deref(), Some(r#"(("AND(" AND "NEAR(x"))"#));
        assert_eq!(fts5_query(r#"say "hi"#).as_deref(), Some(r#"(("say" AND "hi"))"#));
        assert_eq!(fts5_query(r#"a"b"#).as_deref(), Some(r#"(("a" AND "b"))"#));
        assert_eq!(fts5_query(r#"x:y^ "#).as_deref(), Some(r#"(("x:y^"))"#));
    }

    #[test]
    fn nothing_searchable_gives_none() {
        for q in ["", "   ", "*", "-", "\"", "or", "-alone", "( ) *"] {
            assert_eq!(fts5_query(q), None, "{q:?}");
        }
    }

    #[test]
    fn dangling_or_is_ignored() {
        assert_eq!(fts5_query("or cat or").as_deref(), Some(r#"(("cat"))"#));
    }
}
