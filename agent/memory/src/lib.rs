//! What digiOS remembers, in SQLite: conversations, tasks, steps, observations,
//! facts and preferences, the action audit, and a full-text index over them.
//!
//! Durability: an *acknowledged* write is one whose `Memory` call has returned
//! `Ok`. The database runs in WAL mode with `synchronous = FULL`, so every
//! commit is fsynced to the WAL before the call returns: it survives kill -9 of
//! the process and also a power cut or hard reset (digiOS is the whole OS, so
//! the latter is a real case; `NORMAL` would only cover the former).
//!
//! `Memory` is cheap to clone; clones share one connection pool, so the API
//! server and the planner use the same handle.

mod audit;
mod conversations;
mod error;
mod facts;
mod observations;
mod recovery;
pub mod run_records;
mod search;
mod tasks;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Row, SqlitePool};

pub use audit::{ActionOutcome, AuditEntry, AuditOutcome, Decision, NewAuditEntry};
pub use conversations::{Conversation, Message, Role};
pub use digios_api::{Risk, Step, StepOutcome, Task, TaskState};
pub use error::MemoryError;
pub use facts::{Fact, FactKind, FactSource, Provenance};
pub use observations::Observation;
pub use search::{HitKind, SearchHit};
pub use tasks::NewStep;

/// How long a writer waits for another writer before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Readers run concurrently under WAL; writers queue on SQLite's lock.
const MAX_CONNECTIONS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle to the memory database.
#[derive(Debug, Clone)]
pub struct Memory {
    pool: SqlitePool,
    path: Arc<PathBuf>,
}

impl Memory {
    /// Opens (creating if absent) the memory database at `path`, checks that it
    /// is intact, and brings its schema up to date. A damaged file gives
    /// [`MemoryError::Corrupt`] and is left exactly as it was.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, MemoryError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| MemoryError::Open {
                path: path.clone(),
                source: sqlx::Error::Io(source),
            })?;
        }
        recovery::preflight(&path).map_err(|detail| MemoryError::Corrupt {
            path: path.clone(),
            detail,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .disable_statement_logging();
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| open_error(&path, source))?;
        let memory = Self {
            pool,
            path: Arc::new(path),
        };
        if let Err(err) = memory.prepare().await {
            memory.pool.close().await;
            return Err(err);
        }
        Ok(memory)
    }

    async fn prepare(&self) -> Result<(), MemoryError> {
        let path = self.path.as_ref();
        // quick_check reads every page, so truncation and torn pages show up
        // now rather than in the middle of a task.
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA quick_check(5)")
            .fetch_all(&self.pool)
            .await
            .map_err(|source| open_error(path, source))?;
        if problems.iter().any(|line| line != "ok") {
            return Err(MemoryError::Corrupt {
                path: path.clone(),
                detail: problems.join("; "),
            });
        }

        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|source| open_error(path, source))?;
        if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
            return Err(MemoryError::ForeignDatabase {
                path: path.clone(),
                tables: tables.join(", "),
            });
        }

        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|source| match source {
                sqlx::migrate::MigrateError::VersionMissing(version) => MemoryError::NewerSchema {
                    path: path.clone(),
                    version,
                },
                sqlx::migrate::MigrateError::Execute(err) if error::is_corruption(&err) => {
                    MemoryError::Corrupt {
                        path: path.clone(),
                        detail: err.to_string(),
                    }
                }
                source => MemoryError::Migrate {
                    path: path.clone(),
                    source,
                },
            })
    }

    /// Moves the database at `path` and its `-wal`/`-shm` companions aside to
    /// `<name>.corrupt-<UTC time>` (never overwriting anything), then creates a
    /// fresh database at `path`. Returns the new handle and where the old file went.
    pub async fn backup_and_recreate(
        path: impl AsRef<Path>,
    ) -> Result<(Self, PathBuf), MemoryError> {
        let path = path.as_ref();
        let backup = recovery::move_aside(path).map_err(|source| MemoryError::Backup {
            path: path.to_path_buf(),
            source,
        })?;
        tracing::warn!(
            corrupt = %path.display(),
            kept_as = %backup.display(),
            "memory database moved aside; starting a fresh one"
        );
        let memory = Self::open(path).await?;
        Ok((memory, backup))
    }

    /// The database file this handle writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The shared pool, for read-only queries this API does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Runs SQLite's full `integrity_check`; `Ok(())` means the file is sound.
    pub async fn integrity_check(&self) -> Result<(), MemoryError> {
        let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(5)")
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.error(err))?;
        if lines.iter().all(|line| line == "ok") {
            Ok(())
        } else {
            Err(MemoryError::Corrupt {
                path: self.path.to_path_buf(),
                detail: lines.join("; "),
            })
        }
    }

    /// Folds the WAL back into the database file, then closes every
    /// connection once in-flight queries finish. Clones of this handle stop
    /// working too.
    pub async fn close(self) {
        // Best effort: a failed checkpoint leaves the WAL, which SQLite
        // replays on the next open, so nothing is lost either way.
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::debug!(%err, "memory checkpoint on close failed");
        }
        self.pool.close().await;
    }

    /// Starts a write. Every write runs in its own `BEGIN IMMEDIATE`
    /// transaction: it waits for the write lock under the busy timeout instead
    /// of failing on a stale read snapshot, and a failed statement is rolled
    /// back when the transaction drops, so its connection goes back to the
    /// pool clean (a bare failed statement can leave one holding a snapshot,
    /// which makes its next write fail with SQLITE_BUSY_SNAPSHOT).
    ///
    /// The `BEGIN` runs on its own task: a caller dropped while it waits for
    /// the lock (a cancelled task, a timeout) would otherwise leave the
    /// statement to finish unseen on its connection, which then goes back to
    /// the pool holding the write lock and stalls every later write. On its
    /// own task the transaction is always handed over, and rolled back when
    /// nobody is left to take it.
    pub async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, MemoryError> {
        let pool = self.pool.clone();
        let begun = tokio::spawn(async move { pool.begin_with("BEGIN IMMEDIATE").await });
        match begun.await {
            Ok(result) => result.map_err(|err| self.error(err)),
            Err(_) => Err(self.error(sqlx::Error::PoolClosed)),
        }
    }

    /// Commits a write; once this returns, the write is acknowledged.
    pub async fn commit(
        &self,
        tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    ) -> Result<(), MemoryError> {
        tx.commit().await.map_err(|err| self.error(err))
    }

    /// Classifies a database error, naming this file when it shows damage.
    pub(crate) fn error(&self, err: sqlx::Error) -> MemoryError {
        if error::is_corruption(&err) {
            MemoryError::Corrupt {
                path: self.path.to_path_buf(),
                detail: err.to_string(),
            }
        } else {
            MemoryError::Database(err)
        }
    }

    /// Like [`Memory::error`], but a foreign-key failure means the parent row
    /// (`kind` with `id`) does not exist.
    pub(crate) fn error_or_missing(
        &self,
        err: sqlx::Error,
        kind: &'static str,
        id: i64,
    ) -> MemoryError {
        if error::is_foreign_key_violation(&err) {
            MemoryError::NotFound { kind, id }
        } else {
            self.error(err)
        }
    }
}

fn open_error(path: &Path, source: sqlx::Error) -> MemoryError {
    if error::is_corruption(&source) {
        MemoryError::Corrupt {
            path: path.to_path_buf(),
            detail: source.to_string(),
        }
    } else {
        MemoryError::Open {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Milliseconds since the Unix epoch, the unit of every stored time.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads a text column into one of the stored enumerations.
pub(crate) fn enum_column<T: FromStr>(
    row: &sqlx::sqlite::SqliteRow,
    column: &'static str,
) -> Result<T, MemoryError> {
    let value: String = row.try_get(column)?;
    value
        .parse()
        .map_err(|_| MemoryError::UnknownValue { column, value })
}

/// Reads an optional JSON text column.
pub(crate) fn json_column(
    row: &sqlx::sqlite::SqliteRow,
    column: &'static str,
) -> Result<Option<serde_json::Value>, MemoryError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| {
        serde_json::from_str(&text).map_err(|_| MemoryError::UnknownValue {
            column,
            value: text,
        })
    })
    .transpose()
}

/// Declares a stored enumeration: its text form in the database and in JSON.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = ();
            fn from_str(text: &str) -> Result<Self, ()> {
                match text { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;

#[cfg(test)]
mod tests {
    use super::*;

    /// A write whose caller is dropped while it waits for the lock must not
    /// leave its connection holding the lock for everyone after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_dropped_while_waiting_leaves_no_lock_behind() {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();
        let holder = memory.begin_write().await.unwrap();
        // Waits on the lock the holder has; given up on after a moment.
        let waiting = tokio::time::timeout(Duration::from_millis(200), memory.begin_write()).await;
        assert!(waiting.is_err(), "the second write waited for the first");
        memory.commit(holder).await.unwrap();
        // Well inside the busy timeout: a leaked lock would hold this up
        // for all of it and then fail.
        let task = tokio::time::timeout(
            BUSY_TIMEOUT / 2,
            memory.create_task("after a dropped write", None),
        )
        .await
        .expect("the write went through without waiting out the busy timeout");
        assert!(task.is_ok(), "{task:?}");
    }
}
