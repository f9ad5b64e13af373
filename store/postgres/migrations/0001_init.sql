-- deprov's schema on PostgreSQL. Times are timestamptz (microseconds; a
-- NULL time is the zero time); structured values are jsonb, except the
-- audit detail, kept as json: exactly the text that was hashed.

CREATE TABLE config_version (
    id       integer PRIMARY KEY CHECK (id = 1),
    version  bigint NOT NULL,
    defaults jsonb                      -- config.Defaults; NULL when none
);
INSERT INTO config_version (id, version) VALUES (1, 0);

-- Each config item is the JSON of its config struct; position keeps the
-- order it was applied in.
CREATE TABLE config_applications (
    position integer PRIMARY KEY,
    id       text NOT NULL UNIQUE,
    body     jsonb NOT NULL
);
CREATE TABLE config_sources (
    position integer PRIMARY KEY,
    id       text NOT NULL UNIQUE,
    body     jsonb NOT NULL
);
CREATE TABLE config_rules (
    position integer PRIMARY KEY,
    id       text NOT NULL UNIQUE,
    body     jsonb NOT NULL
);

-- Keys compare bytewise (COLLATE "C") so that key order is the same as on
-- SQLite whatever the database's locale.
CREATE TABLE identities (
    key            text COLLATE "C" PRIMARY KEY,  -- "<source>/<externalId>"
    source_id      text NOT NULL,
    external_id    text NOT NULL,
    user_name      text NOT NULL,
    email          text NOT NULL,
    display_name   text NOT NULL,
    status         text NOT NULL,
    end_date       text NOT NULL,         -- identity.EndDate.String(), '' when unknown
    department     text NOT NULL,
    manager        text NOT NULL,
    attributes     jsonb NOT NULL,
    search         text NOT NULL,         -- folded userName, email, displayName for Search
    user_name_fold text NOT NULL,         -- folded in Go: lower() depends on the locale
    status_fold    text NOT NULL,
    hash           text NOT NULL,         -- SHA-256 of the content, for change detection
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX identities_source ON identities (source_id, key);
CREATE INDEX identities_user_name ON identities (user_name_fold);
CREATE INDEX identities_external_id ON identities (external_id);

CREATE TABLE accounts (
    application_id text COLLATE "C" NOT NULL,
    native_id      text COLLATE "C" NOT NULL,
    user_name      text NOT NULL,
    email          text NOT NULL,
    state          text NOT NULL,       -- account.State; 'deleted' also when aggregation no longer sees it
    entitlements   jsonb NOT NULL,
    attributes     jsonb NOT NULL,
    identity_id    text,                -- NULL when uncorrelated
    seen_at        timestamptz,
    sweep          bigint NOT NULL DEFAULT 0, -- the ReplaceAccounts call that last listed it
    PRIMARY KEY (application_id, native_id)
);
CREATE INDEX accounts_identity ON accounts (identity_id, application_id, native_id);

CREATE TABLE matches (
    rule_id     text NOT NULL,
    identity_id text NOT NULL,
    first_at    timestamptz NOT NULL,
    PRIMARY KEY (rule_id, identity_id)
);

CREATE TABLE runs (
    id          bigserial PRIMARY KEY,
    rule_id     text NOT NULL,
    trigger     text NOT NULL,
    actor       text NOT NULL,
    state       text NOT NULL,
    started_at  timestamptz,
    finished_at timestamptz,
    counts      jsonb NOT NULL,
    items       jsonb NOT NULL,
    error       text NOT NULL
);
CREATE INDEX runs_rule ON runs (rule_id, id);
CREATE INDEX runs_state ON runs (state, id);

CREATE TABLE revocations (
    id             bigserial PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES runs (id),
    rule_id        text NOT NULL,
    identity_id    text NOT NULL,
    user_name      text NOT NULL,
    application_id text NOT NULL,
    account_id     text NOT NULL,
    account_name   text NOT NULL,
    action         text NOT NULL,
    state          text NOT NULL,
    due_at         timestamptz,
    created_at     timestamptz,
    updated_at     timestamptz,
    finished_at    timestamptz,
    attempts       integer NOT NULL,
    last_error     text NOT NULL,
    result         text NOT NULL,
    cancel_reason  text NOT NULL,
    queued         boolean NOT NULL DEFAULT false,
    before_account jsonb,               -- account.Account before the change; NULL when not recorded
    undo_of        bigint NOT NULL DEFAULT 0
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
CREATE INDEX revocations_unqueued ON revocations (id) WHERE NOT queued;
CREATE INDEX revocations_undo_of ON revocations (undo_of) WHERE undo_of <> 0;

CREATE TABLE audit (
    seq            bigint PRIMARY KEY,
    time           timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    rule_id        text NOT NULL,
    run_id         bigint NOT NULL,
    revocation_id  bigint NOT NULL,
    identity_id    text NOT NULL,
    application_id text NOT NULL,
    message        text NOT NULL,
    detail         json,                -- NULL when empty
    prev_hash      text NOT NULL,
    hash           text NOT NULL
);
CREATE INDEX audit_rule ON audit (rule_id, seq);
CREATE INDEX audit_identity ON audit (identity_id, seq);
CREATE INDEX audit_run ON audit (run_id, seq);
CREATE INDEX audit_time ON audit (time);

CREATE TABLE held_syncs (
    id          bigserial PRIMARY KEY,
    source_id   text NOT NULL,
    state       text NOT NULL,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    resolved_at timestamptz,
    resolved_by text NOT NULL,
    row_count   integer NOT NULL,
    identities  jsonb NOT NULL
);
CREATE INDEX held_syncs_source ON held_syncs (source_id, id);
CREATE INDEX held_syncs_state ON held_syncs (state, id);

CREATE TABLE tokens (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    role       text NOT NULL,
    hash       text NOT NULL UNIQUE,    -- SHA-256 hex of the secret; never the secret
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    last_used  timestamptz,
    revoked_at timestamptz
);

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
