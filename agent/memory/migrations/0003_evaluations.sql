-- The evaluator's runs and the improvement cycle's history. Times are Unix
-- milliseconds (UTC); JSON columns hold what the Rust types serialize.

CREATE TABLE eval_runs (
    id             INTEGER PRIMARY KEY,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER,
    -- running | finished | failed
    state          TEXT    NOT NULL,
    -- Why the run is there: manual, baseline or candidate (of a cycle).
    purpose        TEXT    NOT NULL,
    model          TEXT    NOT NULL,
    skills_version TEXT    NOT NULL,
    success_rate   REAL,
    error          TEXT
);

CREATE TABLE eval_results (
    run_id      INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    task        TEXT    NOT NULL,
    success     INTEGER NOT NULL,
    steps       INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    error       TEXT,
    -- The planner's steps: what it did and saw, for the cycle's prompt.
    trace       TEXT    NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE improve_cycles (
    id               INTEGER PRIMARY KEY,
    started_at_ms    INTEGER NOT NULL,
    finished_at_ms   INTEGER,
    -- running | integrated | rejected | failed
    state            TEXT    NOT NULL,
    trigger          TEXT    NOT NULL,
    model            TEXT    NOT NULL,
    targets          TEXT    NOT NULL,
    skill_name       TEXT,
    skill_version    INTEGER,
    baseline_run_id  INTEGER REFERENCES eval_runs(id) ON DELETE SET NULL,
    candidate_run_id INTEGER REFERENCES eval_runs(id) ON DELETE SET NULL,
    score_before     REAL,
    score_after      REAL,
    reason           TEXT,
    -- Every generation attempt: prompt, reply, code, compile error.
    attempts         TEXT    NOT NULL,
    test_report      TEXT
);
CREATE INDEX improve_cycles_by_state ON improve_cycles(state);
