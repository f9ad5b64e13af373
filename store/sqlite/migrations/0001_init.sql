-- deprov's schema on SQLite. Times are TEXT in audit.TimeFormat
-- (UTC, microseconds, fixed width) so that they sort as they compare;
-- a NULL time is the zero time.

CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

-- Each config item is the JSON of its config struct; position keeps the
-- order it was applied in.
CREATE TABLE config_applications (
    position INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    body     TEXT NOT NULL
);
CREATE TABLE config_sources (
    position INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    body     TEXT NOT NULL
);
CREATE TABLE config_rules (
    position INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    body     TEXT NOT NULL
);

CREATE TABLE identities (
    key          TEXT PRIMARY KEY,      -- "<source>/<externalId>"
    source_id    TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    user_name    TEXT NOT NULL,
    email        TEXT NOT NULL,
    display_name TEXT NOT NULL,
    status       TEXT NOT NULL,
    end_date     TEXT NOT NULL,         -- identity.EndDate.String(), '' when unknown
    department   TEXT NOT NULL,
    manager      TEXT NOT NULL,
    attributes   TEXT NOT NULL,         -- JSON object
    search       TEXT NOT NULL,         -- lower-cased userName, email, displayName for Search
    hash         TEXT NOT NULL,         -- SHA-256 of the content, for change detection
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX identities_source ON identities (source_id, key);

CREATE TABLE accounts (
    application_id TEXT NOT NULL,
    native_id      TEXT NOT NULL,
    user_name      TEXT NOT NULL,
    email          TEXT NOT NULL,
    state          TEXT NOT NULL,       -- account.State; 'deleted' also when aggregation no longer sees it
    entitlements   TEXT NOT NULL,       -- JSON array
    attributes     TEXT NOT NULL,       -- JSON object
    identity_id    TEXT,                -- NULL when uncorrelated
    seen_at        TEXT,
    sweep          INTEGER NOT NULL DEFAULT 0, -- the ReplaceAccounts call that last listed it
    PRIMARY KEY (application_id, native_id)
) WITHOUT ROWID;
CREATE INDEX accounts_identity ON accounts (identity_id, application_id, native_id);

CREATE TABLE matches (
    rule_id     TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    first_at    TEXT NOT NULL,
    PRIMARY KEY (rule_id, identity_id)
) WITHOUT ROWID;

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_id     TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    actor       TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    counts      TEXT NOT NULL,          -- JSON rule.Counts
    items       TEXT NOT NULL,          -- JSON []rule.Item
    error       TEXT NOT NULL
);
CREATE INDEX runs_rule ON runs (rule_id, id);
CREATE INDEX runs_state ON runs (state, id);

CREATE TABLE revocations (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    rule_id        TEXT NOT NULL,
    identity_id    TEXT NOT NULL,
    user_name      TEXT NOT NULL,
    application_id TEXT NOT NULL,
    account_id     TEXT NOT NULL,
    account_name   TEXT NOT NULL,
    action         TEXT NOT NULL,
    state          TEXT NOT NULL,
    due_at         TEXT,
    created_at     TEXT,
    updated_at     TEXT,
    finished_at    TEXT,
    attempts       INTEGER NOT NULL,
    last_error     TEXT NOT NULL,
    result         TEXT NOT NULL,
    cancel_reason  TEXT NOT NULL,
    queued         INTEGER NOT NULL DEFAULT 0
);
-- At most one active revocation per (rule, identity, application, account,
-- action), whichever writer gets there first.
CREATE UNIQUE INDEX revocations_active ON revocations (rule_id, identity_id, application_id, account_id, action)
    WHERE state IN ('scheduled', 'running', 'waiting');
CREATE INDEX revocations_run ON revocations (run_id);
CREATE INDEX revocations_rule ON revocations (rule_id, identity_id);
CREATE INDEX revocations_identity ON revocations (identity_id);
CREATE INDEX revocations_application ON revocations (application_id);
CREATE INDEX revocations_state ON revocations (state, id);
CREATE INDEX revocations_unqueued ON revocations (id) WHERE queued = 0;

CREATE TABLE audit (
    seq            INTEGER PRIMARY KEY,
    time           TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    rule_id        TEXT NOT NULL,
    run_id         INTEGER NOT NULL,
    revocation_id  INTEGER NOT NULL,
    identity_id    TEXT NOT NULL,
    application_id TEXT NOT NULL,
    message        TEXT NOT NULL,
    detail         TEXT,                -- JSON object, NULL when empty
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_rule ON audit (rule_id, seq);
CREATE INDEX audit_identity ON audit (identity_id, seq);
CREATE INDEX audit_run ON audit (run_id, seq);
CREATE INDEX audit_time ON audit (time);
