-- Undo, approval of held deliveries, API tokens and settings; exact
-- identity lookups for SCIM.

-- The account as it was before the revocation changed it (JSON
-- account.Account, NULL when not recorded), and for a restoring revocation
-- the revocation it undoes (0 for none).
ALTER TABLE revocations ADD COLUMN before_account TEXT;
ALTER TABLE revocations ADD COLUMN undo_of INTEGER NOT NULL DEFAULT 0;
CREATE INDEX revocations_undo_of ON revocations (undo_of) WHERE undo_of <> 0;

-- userName and status folded at write time (SQLite's lower() is ASCII
-- only). The search column starts with the folded userName, so existing
-- rows get exactly what a write would give them; their status is folded
-- by lower(), which differs only for non-ASCII statuses until the next
-- change of the identity.
ALTER TABLE identities ADD COLUMN user_name_fold TEXT NOT NULL DEFAULT '';
ALTER TABLE identities ADD COLUMN status_fold TEXT NOT NULL DEFAULT '';
UPDATE identities SET user_name_fold = substr(search, 1, instr(search, char(10)) - 1), status_fold = lower(status);
CREATE INDEX identities_user_name ON identities (user_name_fold);
CREATE INDEX identities_external_id ON identities (external_id);

CREATE TABLE held_syncs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id   TEXT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    resolved_at TEXT,
    resolved_by TEXT NOT NULL,
    row_count   INTEGER NOT NULL,
    identities  TEXT NOT NULL          -- JSON []identity.Identity
);
CREATE INDEX held_syncs_source ON held_syncs (source_id, id);
CREATE INDEX held_syncs_state ON held_syncs (state, id);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,   -- SHA-256 hex of the secret; never the secret
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    last_used  TEXT,
    revoked_at TEXT
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
