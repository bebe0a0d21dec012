//! Memory on a real SQLite file: restart, typed errors, audit immutability, search.

use std::future::Future;
use std::time::Duration;

use digios_memory::{
    ActionOutcome, Decision, FactKind, FactSource, HitKind, Memory, MemoryError, NewAuditEntry,
    NewStep, Provenance, Risk, Role, StepOutcome, TaskState,
};
use serde_json::json;

/// Every test finishes or fails within this, never hangs.
const LIMIT: Duration = Duration::from_secs(120);

async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, test)
        .await
        .expect("test exceeded its time bound")
}

fn step(thought: &str, tool_call: serde_json::Value, outcome: StepOutcome) -> NewStep {
    NewStep {
        thought: thought.into(),
        tool_call: Some(tool_call),
        observation: Some("window list: foot (focused)".into()),
        outcome,
        duration_ms: 42,
    }
}

fn audit_entry(task_id: Option<i64>, action: &str, decision: Decision) -> NewAuditEntry {
    NewAuditEntry {
        task_id,
        step_index: Some(0),
        action: action.into(),
        params: json!({ "path": "/home/user/notes.txt" }),
        risk: Risk::High,
        decision,
    }
}

#[tokio::test]
async fn memory_survives_a_restart() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/memory.db");

        let memory = Memory::open(&path).await.unwrap();
        let conversation = memory.create_conversation("morning").await.unwrap();
        let said = memory
            .append_message(conversation.id, Role::User, "please open a terminal")
            .await
            .unwrap();
        memory
            .append_message(conversation.id, Role::Assistant, "Opening foot.")
            .await
            .unwrap();
        let task = memory
            .create_task("open a terminal", Some(conversation.id))
            .await
            .unwrap();
        memory
            .set_task_state(task.id, TaskState::Running, None)
            .await
            .unwrap();
        let first = memory
            .append_step(
                task.id,
                &step(
                    "launch the terminal emulator",
                    json!({"name": "launch", "args": {"app": "foot"}}),
                    StepOutcome::Ok,
                ),
            )
            .await
            .unwrap();
        let second = memory
            .append_step(
                task.id,
                &step(
                    "check it is focused",
                    json!({"name": "observe"}),
                    StepOutcome::Ok,
                ),
            )
            .await
            .unwrap();
        let seen = memory
            .record_observation(Some(task.id), "windows", "[{\"app_id\":\"foot\"}]")
            .await
            .unwrap();
        let finished = memory
            .set_task_state(task.id, TaskState::Succeeded, Some("foot is open"))
            .await
            .unwrap();
        let fact = memory
            .set_fact(
                FactKind::Preference,
                "terminal",
                "foot with the solarized theme",
                &Provenance {
                    source: FactSource::Agent,
                    message_id: Some(said.id),
                    task_id: Some(task.id),
                },
            )
            .await
            .unwrap();
        let audited = memory
            .record_decision(&audit_entry(Some(task.id), "launch", Decision::Allowed))
            .await
            .unwrap();
        memory
            .record_outcome(audited.id, ActionOutcome::Succeeded, Some("pid 4242"))
            .await
            .unwrap();
        memory.close().await;

        let memory = Memory::open(&path).await.unwrap();
        memory.integrity_check().await.unwrap();
        assert_eq!(
            memory.get_conversation(conversation.id).await.unwrap(),
            conversation
        );
        let messages = memory.list_messages(conversation.id).await.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], said);
        assert_eq!(messages[1].role, Role::Assistant);
        let task_again = memory.get_task(task.id).await.unwrap();
        assert_eq!(task_again, finished);
        assert_eq!(task_again.result.as_deref(), Some("foot is open"));
        assert!(task_again.finished_at_ms.is_some());
        let steps = memory.list_steps(task.id).await.unwrap();
        assert_eq!(steps, vec![first.clone(), second.clone()]);
        assert_eq!((steps[0].index, steps[1].index), (0, 1));
        assert_eq!(
            steps[0].tool_call,
            Some(json!({"name": "launch", "args": {"app": "foot"}}))
        );
        assert_eq!(memory.list_observations(task.id).await.unwrap(), vec![seen]);
        assert_eq!(
            memory
                .get_fact(FactKind::Preference, "terminal")
                .await
                .unwrap(),
            Some(fact.clone())
        );
        assert_eq!(fact.provenance.message_id, Some(said.id));
        let audit = memory.get_audit(audited.id).await.unwrap();
        assert_eq!(audit.decision, Decision::Allowed);
        let outcome = audit.outcome.expect("outcome survives the restart");
        assert_eq!(outcome.outcome, ActionOutcome::Succeeded);
        assert_eq!(outcome.detail.as_deref(), Some("pid 4242"));

        let hits = memory.search("terminal", 10).await.unwrap();
        let kinds: Vec<(HitKind, i64)> = hits.iter().map(|hit| (hit.kind, hit.id)).collect();
        assert!(kinds.contains(&(HitKind::Message, said.id)), "{hits:?}");
        assert!(kinds.contains(&(HitKind::Task, task.id)), "{hits:?}");
        assert!(kinds.contains(&(HitKind::Step, first.id)), "{hits:?}");
        assert!(kinds.contains(&(HitKind::Fact, fact.id)), "{hits:?}");
        let solarized = memory.search("solarized", 10).await.unwrap();
        assert_eq!(solarized.len(), 1);
        assert_eq!(
            (solarized[0].kind, solarized[0].id),
            (HitKind::Fact, fact.id)
        );
        memory.close().await;
    })
    .await;
}

#[tokio::test]
async fn bad_requests_get_typed_errors() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();

        let missing = memory
            .append_step(999, &step("x", json!({}), StepOutcome::Ok))
            .await;
        assert!(
            matches!(
                missing,
                Err(MemoryError::NotFound {
                    kind: "task",
                    id: 999
                })
            ),
            "{missing:?}"
        );
        let missing = memory.append_message(7, Role::User, "hi").await;
        assert!(
            matches!(
                missing,
                Err(MemoryError::NotFound {
                    kind: "conversation",
                    id: 7
                })
            ),
            "{missing:?}"
        );
        assert!(matches!(
            memory.create_task("open it", Some(5)).await,
            Err(MemoryError::NotFound {
                kind: "conversation",
                id: 5
            })
        ));
        assert!(matches!(
            memory.get_task(1).await,
            Err(MemoryError::NotFound { kind: "task", .. })
        ));
        assert!(matches!(
            memory.create_task("   ", None).await,
            Err(MemoryError::Invalid { field: "goal", .. })
        ));
        assert!(matches!(
            memory.record_observation(Some(31), "windows", "[]").await,
            Err(MemoryError::NotFound {
                kind: "task",
                id: 31
            })
        ));

        let task = memory.create_task("close this window", None).await.unwrap();
        memory
            .set_task_state(task.id, TaskState::Failed, Some("no window"))
            .await
            .unwrap();
        let again = memory
            .set_task_state(task.id, TaskState::Running, None)
            .await;
        assert!(
            matches!(again, Err(MemoryError::Invalid { .. })),
            "{again:?}"
        );
        assert_eq!(
            memory.get_task(task.id).await.unwrap().state,
            TaskState::Failed
        );

        let bad_provenance = Provenance {
            source: FactSource::User,
            message_id: Some(12345),
            task_id: None,
        };
        assert!(matches!(
            memory
                .set_fact(FactKind::Fact, "city", "Lyon", &bad_provenance)
                .await,
            Err(MemoryError::Invalid {
                field: "provenance",
                ..
            })
        ));
        assert!(matches!(
            memory.record_outcome(77, ActionOutcome::Failed, None).await,
            Err(MemoryError::NotFound {
                kind: "audit entry",
                id: 77
            })
        ));

        // A task left running when digiOS went down is marked, not forgotten.
        let running = memory.create_task("type hello", None).await.unwrap();
        memory
            .set_task_state(running.id, TaskState::Running, None)
            .await
            .unwrap();
        let marked = memory.mark_interrupted_tasks().await.unwrap();
        assert_eq!(marked.len(), 1);
        assert_eq!(marked[0].id, running.id);
        assert_eq!(marked[0].state, TaskState::Interrupted);
        memory.close().await;
    })
    .await;
}

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();
        let denied = memory
            .record_action(
                &audit_entry(None, "delete_file", Decision::Denied),
                ActionOutcome::NotRun,
                Some("policy: deny /home/**"),
            )
            .await
            .unwrap();
        let pending = memory
            .record_decision(&audit_entry(None, "shell", Decision::Confirmed))
            .await
            .unwrap();
        assert!(pending.outcome.is_none());
        let done = memory
            .record_outcome(pending.id, ActionOutcome::Failed, Some("exit 1"))
            .await
            .unwrap();

        // An outcome, once written, is final.
        let rewrite = memory
            .record_outcome(pending.id, ActionOutcome::Succeeded, None)
            .await;
        assert!(matches!(rewrite, Err(MemoryError::Invalid { .. })), "{rewrite:?}");

        for statement in [
            "UPDATE audit SET decision = 'allowed'",
            "UPDATE audit SET params = '{}' WHERE id = 1",
            "DELETE FROM audit",
            "DELETE FROM audit WHERE id = 2",
            "UPDATE audit_outcomes SET outcome = 'succeeded'",
            "DELETE FROM audit_outcomes",
            "INSERT OR REPLACE INTO audit_outcomes (audit_id, outcome, at_ms) VALUES (2, 'succeeded', 0)",
            "INSERT OR REPLACE INTO audit (id, action, params, risk, decision, decided_at_ms) \
             VALUES (1, 'read_file', '{}', 'low', 'allowed', 0)",
        ] {
            let err = sqlx::query(statement)
                .execute(memory.pool())
                .await
                .expect_err(statement);
            assert!(err.to_string().contains("append-only"), "{statement}: {err}");
        }
        assert_eq!(memory.get_audit(denied.id).await.unwrap(), denied);
        assert_eq!(memory.get_audit(pending.id).await.unwrap(), done);
        let all = memory.list_audit(None, 10).await.unwrap();
        assert_eq!(all, vec![done, denied]);
        memory.close().await;
    })
    .await;
}

/// Names no variant has (a newer writer, tampering) read back as a typed
/// error, and `Unknown`, which clients read, is never written.
#[tokio::test]
async fn unknown_stored_names_are_typed_errors() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (action, params, risk, decision, decided_at_ms) \
             VALUES ('launch_app', '{}', 'extreme', 'allowed', 0) RETURNING id",
        )
        .fetch_one(memory.pool())
        .await
        .unwrap();
        let read = memory.get_audit(id).await;
        assert!(
            matches!(&read, Err(MemoryError::UnknownValue { column: "risk", value }) if value == "extreme"),
            "{read:?}"
        );

        let task = memory.create_task("open a terminal", None).await.unwrap();
        sqlx::query("UPDATE tasks SET state = 'dreaming' WHERE id = ?")
            .bind(task.id)
            .execute(memory.pool())
            .await
            .unwrap();
        let read = memory.get_task(task.id).await;
        assert!(
            matches!(&read, Err(MemoryError::UnknownValue { column: "state", .. })),
            "{read:?}"
        );

        let other = memory.create_task("list my files", None).await.unwrap();
        let set = memory
            .set_task_state(other.id, TaskState::Unknown, None)
            .await;
        assert!(matches!(set, Err(MemoryError::Invalid { .. })), "{set:?}");
        let appended = memory
            .append_step(other.id, &step("x", json!({}), StepOutcome::Unknown))
            .await;
        assert!(matches!(appended, Err(MemoryError::Invalid { .. })), "{appended:?}");
        assert!(memory.list_steps(other.id).await.unwrap().is_empty());
        memory.close().await;
    })
    .await;
}

#[tokio::test]
async fn search_finds_words_and_survives_hostile_queries() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();
        let conversation = memory.create_conversation("files").await.unwrap();
        let listing = memory
            .append_message(conversation.id, Role::User, "list my files in Documents")
            .await
            .unwrap();
        memory
            .append_message(conversation.id, Role::User, "what is the weather")
            .await
            .unwrap();
        let task = memory
            .create_task("maximize the browser window", None)
            .await
            .unwrap();
        let quoted = memory
            .append_message(conversation.id, Role::User, "say \"foo\" AND OR NOT * bar")
            .await
            .unwrap();

        // Stemming: "file" finds "files".
        let hits = memory.search("file", 10).await.unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!((hits[0].kind, hits[0].id), (HitKind::Message, listing.id));
        assert!(hits[0].snippet.contains("files"), "{:?}", hits[0].snippet);

        // More shared words rank first.
        let hits = memory.search("maximize window please", 10).await.unwrap();
        assert_eq!((hits[0].kind, hits[0].id), (HitKind::Task, task.id));

        for hostile in [
            "\"foo",
            "AND OR NOT *",
            "foo\"",
            "NEAR(foo bar)",
            "col:foo",
            "(((",
            "^foo",
            "*",
            "-foo +bar",
            "'; DROP TABLE messages; --",
            "",
            "   ",
            "\u{0}",
        ] {
            let result = memory.search(hostile, 10).await;
            assert!(result.is_ok(), "{hostile:?}: {result:?}");
        }
        let hits = memory.search("\"foo", 10).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].id, quoted.id);
        let hits = memory.search("AND OR NOT *", 10).await.unwrap();
        assert_eq!(hits.len(), 1, "the words themselves are searched: {hits:?}");
        assert_eq!(hits[0].id, quoted.id);
        assert!(
            memory
                .search("nothing-like-this", 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(memory.search("files", 0).await.unwrap().is_empty());

        // The index follows updates and deletions.
        let user = Provenance::user();
        let fact = memory
            .set_fact(FactKind::Fact, "home city", "Lyon", &user)
            .await
            .unwrap();
        assert_eq!(memory.search("Lyon", 5).await.unwrap()[0].id, fact.id);
        let moved = memory
            .set_fact(FactKind::Fact, "home city", "Grenoble", &user)
            .await
            .unwrap();
        assert_eq!(moved.id, fact.id);
        assert!(memory.search("Lyon", 5).await.unwrap().is_empty());
        assert_eq!(
            memory.search("Grenoble", 5).await.unwrap()[0].kind,
            HitKind::Fact
        );
        assert!(
            memory
                .forget_fact(FactKind::Fact, "home city")
                .await
                .unwrap()
        );
        assert!(
            !memory
                .forget_fact(FactKind::Fact, "home city")
                .await
                .unwrap()
        );
        assert!(memory.search("Grenoble", 5).await.unwrap().is_empty());
        memory.close().await;
    })
    .await;
}

#[tokio::test]
async fn clones_write_concurrently_without_losing_steps() {
    bounded(async {
        let dir = tempfile::tempdir().unwrap();
        let memory = Memory::open(dir.path().join("memory.db")).await.unwrap();
        let task = memory.create_task("stress the pool", None).await.unwrap();
        let writers: Vec<_> = (0..6)
            .map(|writer| {
                let memory = memory.clone();
                tokio::spawn(async move {
                    for n in 0..20 {
                        memory
                            .append_step(
                                task.id,
                                &step(
                                    &format!("writer {writer} step {n}"),
                                    json!({}),
                                    StepOutcome::Ok,
                                ),
                            )
                            .await
                            .unwrap();
                        memory.list_tasks(5).await.unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let steps = memory.list_steps(task.id).await.unwrap();
        let indices: Vec<i64> = steps.iter().map(|s| s.index).collect();
        assert_eq!(indices, (0..120).collect::<Vec<_>>());
        memory.close().await;
    })
    .await;
}
