-- Records of the CODITECT licensing service (SQLite, the embedded default).
-- Same tables and constraints as migrations/postgres; ids are 16-byte BLOBs, times RFC 3339 TEXT,
-- JSON as TEXT.

CREATE TABLE tenants (
    id                 BLOB PRIMARY KEY,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    membership_version INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL
);

CREATE TABLE users (
    id           BLOB PRIMARY KEY,
    tenant_id    BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    firebase_uid TEXT NOT NULL UNIQUE CHECK (length(firebase_uid) BETWEEN 1 AND 128),
    email        TEXT,
    display_name TEXT,
    role         TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    created_at   TEXT NOT NULL
);
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE licenses (
    id                     BLOB PRIMARY KEY,
    tenant_id              BLOB NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    tier                   TEXT NOT NULL CHECK (tier IN ('FREE', 'PRO', 'TEAM', 'ENTERPRISE')),
    max_seats              INTEGER NOT NULL CHECK (max_seats >= 0),
    features               TEXT NOT NULL DEFAULT '[]',
    status                 TEXT NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'CANCELED')),
    expires_at             TEXT,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT UNIQUE,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE invitations (
    id          BLOB PRIMARY KEY,
    tenant_id   BLOB NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL CHECK (email = lower(email)),
    role        TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    invited_by  BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    accepted_at TEXT,
    revoked_at  TEXT
);
CREATE INDEX invitations_email_idx ON invitations (email);
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id);

CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   BLOB NOT NULL,
    license_id  BLOB,
    user_id     BLOB,
    action      TEXT NOT NULL,
    session_id  TEXT,
    detail      TEXT NOT NULL DEFAULT '{}',
    request_id  TEXT,
    occurred_at TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, id DESC);
