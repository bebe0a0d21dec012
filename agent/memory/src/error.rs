use std::path::PathBuf;

/// Everything that can go wrong with digiOS memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// The file is not a readable SQLite database (garbage, truncated, damaged).
    /// Nothing has been changed; `Memory::backup_and_recreate` moves it aside.
    #[error(
        "memory database {path} is corrupt: {detail}; \
         Memory::backup_and_recreate moves it aside and starts a fresh one"
    )]
    Corrupt { path: PathBuf, detail: String },
    /// A valid SQLite database that digiOS did not create; it is left untouched.
    #[error(
        "{path} is an SQLite database that digiOS did not create (tables: {tables}); \
         refusing to write into it"
    )]
    ForeignDatabase { path: PathBuf, tables: String },
    /// The database was written by a newer digiOS with migrations this build lacks.
    #[error("memory database {path} has schema version {version}, newer than this digiOS knows")]
    NewerSchema { path: PathBuf, version: i64 },
    #[error("cannot migrate memory database {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("cannot open memory database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot move corrupt memory database {path} aside: {source}")]
    Backup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: i64 },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A stored value no variant of its Rust type names (a newer writer, or tampering).
    #[error("stored {column} has unknown value {value:?}")]
    UnknownValue { column: &'static str, value: String },
    #[error("memory database: {0}")]
    Database(#[from] sqlx::Error),
}

impl MemoryError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// SQLite's primary result codes for a damaged file: SQLITE_CORRUPT and SQLITE_NOTADB.
pub(crate) fn is_corruption(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    let Some(code) = db.code().and_then(|code| code.parse::<i64>().ok()) else {
        return false;
    };
    matches!(code & 0xff, 11 | 26)
}

pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation)
}
