//! A damaged database file gives a clear error and is never silently lost.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use digios_memory::{Memory, MemoryError, Role};

const LIMIT: Duration = Duration::from_secs(120);

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test exceeded its time bound")
}

/// Deterministic noise that cannot be mistaken for an SQLite header.
fn garbage(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Writes a real, multi-page memory database and closes it cleanly.
async fn well_filled_database(path: &Path) {
    let memory = Memory::open(path).await.unwrap();
    let conversation = memory.create_conversation("long").await.unwrap();
    for n in 0..400 {
        memory
            .append_message(
                conversation.id,
                Role::User,
                &format!("message {n} {}", "lorem ipsum ".repeat(40)),
            )
            .await
            .unwrap();
    }
    memory.close().await;
}

async fn expect_corrupt(path: &Path) -> String {
    let before = std::fs::read(path).unwrap();
    match Memory::open(path).await {
        Err(err @ MemoryError::Corrupt { .. }) => {
            let message = err.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("backup_and_recreate"), "{message}");
            assert_eq!(
                std::fs::read(path).unwrap(),
                before,
                "a failed open changed the file"
            );
            message
        }
        other => panic!("{}: expected Corrupt, got {other:?}", path.display()),
    }
}

#[tokio::test]
async fn garbage_and_non_database_files_are_reported_corrupt() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let noise = dir.path().join("noise.db");
        std::fs::write(&noise, garbage(16_384)).unwrap();
        expect_corrupt(&noise).await;

        let text = dir.path().join("text.db");
        std::fs::write(
            &text,
            "this is a shopping list, not a database\n".repeat(50),
        )
        .unwrap();
        expect_corrupt(&text).await;

        let stub = dir.path().join("stub.db");
        std::fs::write(&stub, b"SQLite format 3\0").unwrap();
        expect_corrupt(&stub).await;
    })
    .await;
}

#[tokio::test]
async fn truncated_database_is_reported_corrupt() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        for keep in [0.5, 0.9] {
            let path = dir.path().join(format!("truncated-{keep}.db"));
            well_filled_database(&path).await;
            let len = std::fs::metadata(&path).unwrap().len();
            assert!(
                len > 100_000,
                "database too small to truncate meaningfully: {len}"
            );
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.set_len((len as f64 * keep) as u64 / 4096 * 4096)
                .unwrap();
            drop(file);
            expect_corrupt(&path).await;
        }

        let header_only = dir.path().join("header-only.db");
        well_filled_database(&header_only).await;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&header_only)
            .unwrap();
        file.set_len(60).unwrap();
        drop(file);
        expect_corrupt(&header_only).await;
    })
    .await;
}

#[tokio::test]
async fn another_programs_database_is_left_alone() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("contacts.db");
        {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .connect()
                .await
                .unwrap();
            sqlx::query("CREATE TABLE contacts (name TEXT)")
                .execute(&mut conn)
                .await
                .unwrap();
            use sqlx::Connection;
            conn.close().await.unwrap();
        }
        match Memory::open(&path).await {
            Err(MemoryError::ForeignDatabase { tables, .. }) => assert_eq!(tables, "contacts"),
            other => panic!("expected ForeignDatabase, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn backup_and_recreate_keeps_the_corrupt_copy() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.db");
        let noise = garbage(8192);
        std::fs::write(&path, &noise).unwrap();
        std::fs::write(dir.path().join("memory.db-wal"), b"stale log").unwrap();
        expect_corrupt(&path).await;

        let (memory, backup) = Memory::backup_and_recreate(&path).await.unwrap();
        assert_eq!(
            std::fs::read(&backup).unwrap(),
            noise,
            "the corrupt copy is kept"
        );
        let name = backup.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("memory.db.corrupt-"), "{name}");
        let wal_backup = format!("{}-wal", backup.display());
        assert_eq!(std::fs::read(&wal_backup).unwrap(), b"stale log");

        // The fresh database works and starts empty.
        assert!(memory.list_tasks(10).await.unwrap().is_empty());
        let task = memory.create_task("open a terminal", None).await.unwrap();
        memory.close().await;
        let memory = Memory::open(&path).await.unwrap();
        assert_eq!(
            memory.get_task(task.id).await.unwrap().goal,
            "open a terminal"
        );
        memory.close().await;

        // A second corruption never overwrites the first backup.
        std::fs::write(&path, garbage(4096)).unwrap();
        for companion in ["memory.db-wal", "memory.db-shm"] {
            let _ = std::fs::remove_file(dir.path().join(companion));
        }
        expect_corrupt(&path).await;
        let (memory, second) = Memory::backup_and_recreate(&path).await.unwrap();
        assert_ne!(second, backup);
        assert_eq!(std::fs::read(&backup).unwrap(), noise);
        assert_eq!(std::fs::read(&second).unwrap(), garbage(4096));
        memory.close().await;
    })
    .await;
}
