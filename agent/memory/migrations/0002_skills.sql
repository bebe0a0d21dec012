-- Skills: every version of every skill, archived; one active version per skill.
CREATE TABLE skill_versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    description TEXT NOT NULL,
    params_schema TEXT NOT NULL,
    code TEXT NOT NULL,
    tests TEXT NOT NULL,
    author_model TEXT,
    parent_version INTEGER,
    -- The version that was active when this one was installed.
    replaced_version INTEGER,
    state TEXT NOT NULL, -- active | archived | rolled_back
    state_reason TEXT,
    live_calls INTEGER NOT NULL DEFAULT 0,
    live_failures INTEGER NOT NULL DEFAULT 0,
    created_at_ms INTEGER NOT NULL,
    UNIQUE (name, version)
);

CREATE UNIQUE INDEX skill_versions_one_active ON skill_versions (name) WHERE state = 'active';

-- Drafts that did not become a version, with why.
CREATE TABLE skill_rejections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    reason TEXT NOT NULL, -- invalid_manifest | compile_error | tests_failed
    message TEXT NOT NULL,
    line INTEGER,
    code TEXT NOT NULL,
    manifest TEXT NOT NULL,
    author_model TEXT,
    report TEXT,
    created_at_ms INTEGER NOT NULL
);

CREATE INDEX skill_rejections_by_name ON skill_rejections (name, id);
