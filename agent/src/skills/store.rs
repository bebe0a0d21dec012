//! Skill versions and rejected drafts in the memory database
//! (`migrations/0002_skills.sql`). Each change of the active version runs in
//! one write transaction, so there is never zero or two active versions
//! half-way.

use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{
    SkillDraft, SkillError, SkillHistory, SkillRejection, SkillSummary, SkillTestReport,
    SkillVersion, VersionState,
};
use crate::memory::{Memory, MemoryError, now_ms};

const COLUMNS: &str = "name, version, description, params_schema, code, tests, author_model, \
     parent_version, replaced_version, state, state_reason, live_calls, live_failures, \
     created_at_ms";

fn unknown(column: &'static str, value: String) -> SkillError {
    SkillError::from(MemoryError::UnknownValue { column, value })
}

fn json_text(row: &SqliteRow, column: &'static str) -> Result<Value, SkillError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|_| unknown(column, text))
}

fn version_from_row(row: &SqliteRow) -> Result<SkillVersion, SkillError> {
    let state: String = row.try_get("state")?;
    let tests = json_text(row, "tests")?;
    Ok(SkillVersion {
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        description: row.try_get("description")?,
        params: json_text(row, "params_schema")?,
        code: row.try_get("code")?,
        author_model: row.try_get("author_model")?,
        parent_version: row.try_get("parent_version")?,
        tests: serde_json::from_value(tests.clone())
            .map_err(|_| unknown("tests", tests.to_string()))?,
        replaced_version: row.try_get("replaced_version")?,
        state: VersionState::parse(&state).ok_or_else(|| unknown("state", state.clone()))?,
        state_reason: row.try_get("state_reason")?,
        live_calls: row.try_get("live_calls")?,
        live_failures: row.try_get("live_failures")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

pub async fn active(memory: &Memory, name: &str) -> Result<Option<SkillVersion>, SkillError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM skill_versions WHERE name = ? AND state = 'active'"
    ))
    .bind(name)
    .fetch_optional(memory.pool())
    .await?;
    row.as_ref().map(version_from_row).transpose()
}

pub async fn all_active(memory: &Memory) -> Result<Vec<SkillVersion>, SkillError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM skill_versions WHERE state = 'active' ORDER BY name"
    ))
    .fetch_all(memory.pool())
    .await?;
    rows.iter().map(version_from_row).collect()
}

pub async fn version(
    memory: &Memory,
    name: &str,
    version: i64,
) -> Result<Option<SkillVersion>, SkillError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM skill_versions WHERE name = ? AND version = ?"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(memory.pool())
    .await?;
    row.as_ref().map(version_from_row).transpose()
}

/// Stores `draft` as the next version of its skill and activates it,
/// archiving the version that was active.
pub async fn insert_active(
    memory: &Memory,
    draft: &SkillDraft,
) -> Result<SkillVersion, SkillError> {
    let mut tx = memory.begin_write().await?;
    let next: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM skill_versions WHERE name = ?",
    )
    .bind(&draft.name)
    .fetch_one(&mut *tx)
    .await?;
    let replaced: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM skill_versions WHERE name = ? AND state = 'active'",
    )
    .bind(&draft.name)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(replaced) = replaced {
        sqlx::query(
            "UPDATE skill_versions SET state = 'archived', state_reason = ? \
             WHERE name = ? AND version = ?",
        )
        .bind(format!("replaced by version {next}"))
        .bind(&draft.name)
        .bind(replaced)
        .execute(&mut *tx)
        .await?;
    }
    let tests =
        serde_json::to_string(&draft.tests).map_err(|e| SkillError::Internal(e.to_string()))?;
    sqlx::query(
        "INSERT INTO skill_versions (name, version, description, params_schema, code, tests, \
         author_model, parent_version, replaced_version, state, created_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
    )
    .bind(&draft.name)
    .bind(next)
    .bind(&draft.description)
    .bind(draft.params.to_string())
    .bind(&draft.code)
    .bind(tests)
    .bind(&draft.author_model)
    .bind(draft.parent_version.or(replaced))
    .bind(replaced)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    memory.commit(tx).await?;
    version(memory, &draft.name, next)
        .await?
        .ok_or_else(|| SkillError::Internal("the new version vanished".into()))
}

/// Marks the active version `rolled_back` and activates the one before it.
/// With `only_version`, nothing changes unless that version is still the
/// active one (two live calls may judge the same version at once), and the
/// active version is returned as it is.
pub async fn rollback(
    memory: &Memory,
    name: &str,
    only_version: Option<i64>,
    reason: &str,
) -> Result<SkillVersion, SkillError> {
    let mut tx = memory.begin_write().await?;
    let current: Option<(i64, Option<i64>)> = sqlx::query_as(
        "SELECT version, replaced_version FROM skill_versions WHERE name = ? AND state = 'active'",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((current, replaced)) = current else {
        let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM skill_versions WHERE name = ?")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        return Err(if any == 0 {
            SkillError::NotFound(name.to_string())
        } else {
            SkillError::NothingToRollBack(name.to_string())
        });
    };
    // The version it replaced, if still archived; else the newest archived older one.
    let target: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM skill_versions WHERE name = ? AND state = 'archived' AND version < ? \
         ORDER BY (version = ?) DESC, version DESC LIMIT 1",
    )
    .bind(name)
    .bind(current)
    .bind(replaced.unwrap_or(-1))
    .fetch_optional(&mut *tx)
    .await?;
    if only_version.is_some_and(|only| only != current) {
        drop(tx);
        return version(memory, name, current)
            .await?
            .ok_or_else(|| SkillError::NotFound(name.to_string()));
    }
    let Some(target) = target else {
        return Err(SkillError::NothingToRollBack(name.to_string()));
    };
    sqlx::query(
        "UPDATE skill_versions SET state = 'rolled_back', state_reason = ? \
         WHERE name = ? AND version = ?",
    )
    .bind(reason)
    .bind(name)
    .bind(current)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE skill_versions SET state = 'active', state_reason = ? \
         WHERE name = ? AND version = ?",
    )
    .bind(format!("restored when version {current} was rolled back"))
    .bind(name)
    .bind(target)
    .execute(&mut *tx)
    .await?;
    memory.commit(tx).await?;
    version(memory, name, target)
        .await?
        .ok_or_else(|| SkillError::Internal("the restored version vanished".into()))
}

/// Counts one live call of `name` `version`; returns the updated version.
pub async fn count_call(
    memory: &Memory,
    name: &str,
    version_number: i64,
    failed: bool,
) -> Result<SkillVersion, SkillError> {
    let mut tx = memory.begin_write().await?;
    sqlx::query(
        "UPDATE skill_versions SET live_calls = live_calls + 1, \
         live_failures = live_failures + ? WHERE name = ? AND version = ?",
    )
    .bind(i64::from(failed))
    .bind(name)
    .bind(version_number)
    .execute(&mut *tx)
    .await?;
    memory.commit(tx).await?;
    version(memory, name, version_number)
        .await?
        .ok_or_else(|| SkillError::NoSuchVersion {
            name: name.to_string(),
            version: version_number,
        })
}

pub async fn list(memory: &Memory) -> Result<Vec<SkillSummary>, SkillError> {
    let rows = sqlx::query(
        "SELECT a.name, a.description, a.version, a.params_schema, a.author_model, \
         a.live_calls, a.live_failures, \
         (SELECT COUNT(*) FROM skill_versions v WHERE v.name = a.name) AS versions \
         FROM skill_versions a WHERE a.state = 'active' ORDER BY a.name",
    )
    .fetch_all(memory.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SkillSummary {
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                version: row.try_get("version")?,
                params: json_text(row, "params_schema")?,
                author_model: row.try_get("author_model")?,
                live_calls: row.try_get("live_calls")?,
                live_failures: row.try_get("live_failures")?,
                versions: row.try_get("versions")?,
            })
        })
        .collect()
}

pub async fn history(memory: &Memory, name: &str) -> Result<SkillHistory, SkillError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM skill_versions WHERE name = ? ORDER BY version DESC"
    ))
    .bind(name)
    .fetch_all(memory.pool())
    .await?;
    let versions: Vec<SkillVersion> = rows
        .iter()
        .map(version_from_row)
        .collect::<Result<_, _>>()?;
    let rejections = rejections(memory, name).await?;
    if versions.is_empty() && rejections.is_empty() {
        return Err(SkillError::NotFound(name.to_string()));
    }
    Ok(SkillHistory {
        name: name.to_string(),
        active_version: versions
            .iter()
            .find(|v| v.state == VersionState::Active)
            .map(|v| v.version),
        versions,
        rejections,
    })
}

async fn rejections(memory: &Memory, name: &str) -> Result<Vec<SkillRejection>, SkillError> {
    let rows = sqlx::query(
        "SELECT id, name, reason, message, line, code, author_model, report, created_at_ms \
         FROM skill_rejections WHERE name = ? ORDER BY id DESC LIMIT 50",
    )
    .bind(name)
    .fetch_all(memory.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let report: Option<String> = row.try_get("report")?;
            let report: Option<SkillTestReport> = match report {
                Some(text) => {
                    Some(serde_json::from_str(&text).map_err(|_| unknown("report", text))?)
                }
                None => None,
            };
            let line: Option<i64> = row.try_get("line")?;
            Ok(SkillRejection {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                reason: row.try_get("reason")?,
                message: row.try_get("message")?,
                line: line.and_then(|l| u32::try_from(l).ok()),
                code: row.try_get("code")?,
                author_model: row.try_get("author_model")?,
                report,
                created_at_ms: row.try_get("created_at_ms")?,
            })
        })
        .collect()
}

/// Records a draft that was turned away, with why.
pub async fn reject(
    memory: &Memory,
    draft: &SkillDraft,
    err: &SkillError,
) -> Result<(), SkillError> {
    let (reason, line, report) = match err {
        SkillError::InvalidManifest(_) => ("invalid_manifest", None, None),
        SkillError::Compile(compile) => ("compile_error", compile.line, None),
        SkillError::TestsFailed(report) => (
            "tests_failed",
            None,
            serde_json::to_string(report.as_ref()).ok(),
        ),
        _ => return Ok(()),
    };
    let message = match err {
        SkillError::Compile(compile) => compile.to_string(),
        SkillError::TestsFailed(report) => report.summary(),
        other => other.to_string(),
    };
    let manifest = serde_json::json!({
        "name": draft.name,
        "description": draft.description,
        "params": draft.params,
        "parent_version": draft.parent_version,
        "tests": draft.tests,
    });
    let mut tx = memory.begin_write().await?;
    sqlx::query(
        "INSERT INTO skill_rejections (name, reason, message, line, code, manifest, \
         author_model, report, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&draft.name)
    .bind(reason)
    .bind(message)
    .bind(line.map(i64::from))
    .bind(&draft.code)
    .bind(manifest.to_string())
    .bind(&draft.author_model)
    .bind(report)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    memory.commit(tx).await?;
    Ok(())
}
