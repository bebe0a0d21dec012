use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Memory, MemoryError, stored_enum};

stored_enum! {
    /// What a search hit points at.
    HitKind {
        Message = "message",
        Task = "task",
        Step = "step",
        Fact = "fact",
    }
}

/// One ranked search result; `id` is the row id within its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub kind: HitKind,
    pub id: i64,
    /// A short excerpt around the matching words.
    pub snippet: String,
    /// Higher is more relevant (negated BM25).
    pub score: f64,
}

/// Words beyond this many are ignored; the planner passes whole goals.
const MAX_QUERY_WORDS: usize = 32;
/// Ceiling for `limit`, so a careless caller cannot pull the whole index.
pub const MAX_SEARCH_LIMIT: u32 = 200;

/// Turns free text into an FTS5 query that cannot be a syntax error: each
/// word becomes a quoted string (so `AND`, `NEAR`, `*`, `"` and `:` lose their
/// meaning), joined by OR so that any shared word counts and BM25 ranks
/// rows sharing more (and rarer) words first. `None` if it holds no word.
pub(crate) fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(MAX_QUERY_WORDS)
        .map(|word| format!("\"{word}\""))
        .collect();
    (!words.is_empty()).then(|| words.join(" OR "))
}

fn kind_of(rowid: i64) -> Option<HitKind> {
    match rowid.rem_euclid(4) {
        0 => Some(HitKind::Message),
        1 => Some(HitKind::Task),
        2 => Some(HitKind::Step),
        3 => Some(HitKind::Fact),
        _ => None,
    }
}

impl Memory {
    /// Full-text search over messages, task goals, steps and facts, best
    /// first. Any user text is safe to pass; text with no words finds nothing.
    pub async fn search(&self, text: &str, limit: u32) -> Result<Vec<SearchHit>, MemoryError> {
        let Some(query) = fts_query(text) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(
            "SELECT rowid, snippet(search_index, 0, '', '', '…', 16) AS snippet, \
             bm25(search_index) AS bm25_score \
             FROM search_index WHERE search_index MATCH ? ORDER BY bm25_score LIMIT ?",
        )
        .bind(query)
        .bind(limit.min(MAX_SEARCH_LIMIT))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?;
        rows.iter()
            .map(|row| {
                let rowid: i64 = row.try_get("rowid")?;
                let kind = kind_of(rowid).ok_or(MemoryError::UnknownValue {
                    column: "search_index.rowid",
                    value: rowid.to_string(),
                })?;
                let bm25: f64 = row.try_get("bm25_score")?;
                Ok(SearchHit {
                    kind,
                    id: rowid.div_euclid(4),
                    snippet: row.try_get("snippet")?,
                    score: -bm25,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn hostile_text_becomes_quoted_words() {
        assert_eq!(fts_query("\"foo"), Some("\"foo\"".into()));
        assert_eq!(
            fts_query("AND OR NOT *"),
            Some("\"AND\" OR \"OR\" OR \"NOT\"".into())
        );
        assert_eq!(fts_query("col:value^"), Some("\"col\" OR \"value\"".into()));
        assert_eq!(fts_query("  *** ( ) \" "), None);
        assert_eq!(fts_query(""), None);
    }

    #[test]
    fn long_text_is_capped() {
        let text = "word ".repeat(1000);
        let query = fts_query(&text).unwrap();
        assert_eq!(query.matches("\"word\"").count(), super::MAX_QUERY_WORDS);
    }
}
