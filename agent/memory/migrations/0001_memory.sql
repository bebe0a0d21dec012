-- digiOS memory, first schema. Times are Unix milliseconds (UTC).
-- Enumerations (roles, task states, outcomes) are checked by the Rust types
-- that write them, so a new state needs no table rebuild.

CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT    NOT NULL,
    content         TEXT    NOT NULL,
    created_at_ms   INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);

CREATE TABLE tasks (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER REFERENCES conversations(id) ON DELETE SET NULL,
    goal            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    result          TEXT,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    finished_at_ms  INTEGER
);
CREATE INDEX tasks_by_state ON tasks(state);

CREATE TABLE steps (
    id            INTEGER PRIMARY KEY,
    task_id       INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    step_index    INTEGER NOT NULL,
    thought       TEXT    NOT NULL,
    tool_call     TEXT    CHECK (tool_call IS NULL OR json_valid(tool_call)),
    observation   TEXT,
    outcome       TEXT    NOT NULL,
    duration_ms   INTEGER NOT NULL CHECK (duration_ms >= 0),
    created_at_ms INTEGER NOT NULL,
    UNIQUE (task_id, step_index)
);

CREATE TABLE observations (
    id            INTEGER PRIMARY KEY,
    task_id       INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
    source        TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX observations_by_task ON observations(task_id, id);

-- Facts and preferences share one key space per kind; setting a key again
-- replaces its value and provenance.
CREATE TABLE facts (
    id                INTEGER PRIMARY KEY,
    kind              TEXT    NOT NULL,
    key               TEXT    NOT NULL,
    value             TEXT    NOT NULL,
    source            TEXT    NOT NULL,
    source_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
    source_task_id    INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    UNIQUE (kind, key)
);

-- The action audit. A decision is written before the action runs and its
-- outcome after, as two append-only rows, so an action interrupted by a
-- crash still shows that it was attempted. No foreign keys: the audit must
-- outlive the tasks it mentions.
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    task_id        INTEGER,
    step_index     INTEGER,
    action         TEXT    NOT NULL,
    params         TEXT    NOT NULL CHECK (json_valid(params)),
    risk           TEXT    NOT NULL,
    decision       TEXT    NOT NULL,
    decided_at_ms  INTEGER NOT NULL
);
CREATE INDEX audit_by_task ON audit(task_id, id);

CREATE TABLE audit_outcomes (
    audit_id INTEGER PRIMARY KEY REFERENCES audit(id),
    outcome  TEXT    NOT NULL,
    detail   TEXT,
    at_ms    INTEGER NOT NULL
);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only'); END;
CREATE TRIGGER audit_outcomes_no_update BEFORE UPDATE ON audit_outcomes
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only'); END;
CREATE TRIGGER audit_outcomes_no_delete BEFORE DELETE ON audit_outcomes
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only'); END;
-- INSERT OR REPLACE deletes without firing delete triggers; refuse it up front.
CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
WHEN EXISTS (SELECT 1 FROM audit WHERE id = new.id)
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only'); END;
CREATE TRIGGER audit_outcomes_once BEFORE INSERT ON audit_outcomes
WHEN EXISTS (SELECT 1 FROM audit_outcomes WHERE audit_id = new.audit_id)
BEGIN SELECT RAISE(ABORT, 'the action audit is append-only: this entry already has an outcome'); END;

-- One full-text index over everything the planner may recall. Its rowid
-- encodes the source row as id * 4 + kind (0 message, 1 task, 2 step,
-- 3 fact), so the sync triggers find an entry without scanning.
CREATE VIRTUAL TABLE search_index USING fts5(
    body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_index_insert AFTER INSERT ON messages BEGIN
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 0, new.content);
END;
CREATE TRIGGER messages_index_update AFTER UPDATE OF content ON messages BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 0;
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 0, new.content);
END;
CREATE TRIGGER messages_index_delete AFTER DELETE ON messages BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 0;
END;

CREATE TRIGGER tasks_index_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 1, new.goal);
END;
CREATE TRIGGER tasks_index_update AFTER UPDATE OF goal ON tasks BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 1;
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 1, new.goal);
END;
CREATE TRIGGER tasks_index_delete AFTER DELETE ON tasks BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 1;
END;

CREATE TRIGGER steps_index_insert AFTER INSERT ON steps BEGIN
    INSERT INTO search_index(rowid, body) VALUES (
        new.id * 4 + 2,
        concat_ws(' ', new.thought, new.tool_call, new.observation));
END;
CREATE TRIGGER steps_index_update AFTER UPDATE OF thought, tool_call, observation ON steps BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 2;
    INSERT INTO search_index(rowid, body) VALUES (
        new.id * 4 + 2,
        concat_ws(' ', new.thought, new.tool_call, new.observation));
END;
CREATE TRIGGER steps_index_delete AFTER DELETE ON steps BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 2;
END;

CREATE TRIGGER facts_index_insert AFTER INSERT ON facts BEGIN
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 3, new.key || ' ' || new.value);
END;
CREATE TRIGGER facts_index_update AFTER UPDATE OF key, value ON facts BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 3;
    INSERT INTO search_index(rowid, body) VALUES (new.id * 4 + 3, new.key || ' ' || new.value);
END;
CREATE TRIGGER facts_index_delete AFTER DELETE ON facts BEGIN
    DELETE FROM search_index WHERE rowid = old.id * 4 + 3;
END;
