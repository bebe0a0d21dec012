//! kill -9 in the middle of a task loses no acknowledged row.
//!
//! The test re-executes its own binary as the writer: with
//! `DIGIOS_MEMORY_CRASH_DB` set, `crash_writer_child` writes steps and audit
//! entries in a loop and prints each id only after the write returned. The
//! parent SIGKILLs it, reopens the database and looks for every printed id.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use digios_memory::{
    ActionOutcome, Decision, Memory, NewAuditEntry, NewStep, Risk, StepOutcome, TaskState,
};

const CHILD_ENV: &str = "DIGIOS_MEMORY_CRASH_DB";
/// Bounds each writer's run; the writer normally gets killed far sooner.
const ROUND_LIMIT: Duration = Duration::from_secs(180);

/// The writer half. A no-op in a normal test run.
#[test]
fn crash_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let memory = Memory::open(&path).await.unwrap();
        let task = memory.create_task("write until killed", None).await.unwrap();
        memory
            .set_task_state(task.id, TaskState::Running, None)
            .await
            .unwrap();
        acknowledge(&format!("task {}", task.id));
        // Two writers at once, as the planner and the API server would be.
        let writers: Vec<_> = (0..2)
            .map(|writer| {
                let memory = memory.clone();
                tokio::spawn(async move {
                    for n in 0u64.. {
                        let step = memory
                            .append_step(
                                task.id,
                                &NewStep {
                                    thought: format!("writer {writer} iteration {n} {}", "x".repeat(200)),
                                    tool_call: Some(serde_json::json!({"name": "type_text", "args": {"text": n}})),
                                    observation: Some("ok".into()),
                                    outcome: StepOutcome::Ok,
                                    duration_ms: n,
                                },
                            )
                            .await
                            .unwrap();
                        acknowledge(&format!("step {}", step.id));
                        let audit = memory
                            .record_action(
                                &NewAuditEntry {
                                    task_id: Some(task.id),
                                    step_index: Some(step.index),
                                    action: "type_text".into(),
                                    params: serde_json::json!({"text": n}),
                                    risk: Risk::Low,
                                    decision: Decision::Allowed,
                                },
                                ActionOutcome::Succeeded,
                                None,
                            )
                            .await
                            .unwrap();
                        acknowledge(&format!("audit {}", audit.id));
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
    });
}

fn acknowledge(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ack {line}").unwrap();
    out.flush().unwrap();
}

/// Runs one writer until it has acknowledged `kill_after` rows, SIGKILLs it,
/// and returns every acknowledged line.
fn run_writer_and_kill(path: &std::path::Path, kill_after: usize) -> Vec<String> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness's "test crash_writer_child ... " may share the first line.
            if let Some((_, ack)) = line.split_once("ack ")
                && lines_tx.send(ack.to_string()).is_err()
            {
                break;
            }
        }
    });

    let deadline = Instant::now() + ROUND_LIMIT;
    let mut acknowledged = Vec::new();
    while acknowledged.len() < kill_after {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => acknowledged.push(line),
            Err(err) => {
                child.kill().ok();
                child.wait().ok();
                panic!(
                    "writer stopped after {} acknowledgements: {err:?}",
                    acknowledged.len()
                );
            }
        }
    }
    // Child::kill sends SIGKILL on Unix: no destructors, no checkpoint.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the writer must have been killed");
    reader.join().unwrap();
    // Acknowledgements already in the pipe when the signal landed count too.
    acknowledged.extend(lines.try_iter());
    acknowledged
}

#[tokio::test]
async fn kill_9_mid_task_loses_no_acknowledged_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    tokio::time::timeout(ROUND_LIMIT * 4, async {
        // Several rounds on one file: each recovery must leave a database the
        // next writer can build on.
        for kill_after in [7, 60, 301] {
            let acknowledged = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || run_writer_and_kill(&path, kill_after))
                    .await
                    .unwrap()
            };
            assert!(acknowledged.len() >= kill_after);

            let memory = Memory::open(&path).await.unwrap();
            memory.integrity_check().await.unwrap();
            let mut task_id = None;
            for line in &acknowledged {
                let (kind, id) = line.split_once(' ').unwrap();
                let id: i64 = id.parse().unwrap();
                match kind {
                    "task" => {
                        task_id = Some(id);
                        memory.get_task(id).await.unwrap();
                    }
                    "step" => {
                        let step = memory.get_step(id).await.unwrap();
                        assert_eq!(Some(step.task_id), task_id);
                    }
                    "audit" => {
                        let entry = memory.get_audit(id).await.unwrap();
                        assert!(
                            entry.outcome.is_some(),
                            "decision and outcome commit together"
                        );
                    }
                    other => panic!("unexpected acknowledgement {other}"),
                }
            }
            let marked = memory.mark_interrupted_tasks().await.unwrap();
            assert_eq!(
                marked.iter().map(|t| Some(t.id)).collect::<Vec<_>>(),
                vec![task_id]
            );
            memory.close().await;
        }
    })
    .await
    .expect("crash test exceeded its time bound");
}
