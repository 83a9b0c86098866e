-- Records of the CODITECT licensing service (PostgreSQL 16).
-- Live seats are not here: they live in Redis. This is who may hold them and what happened.

CREATE TABLE tenants (
    id                 UUID PRIMARY KEY,
    name               TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Bumped by every membership change; the UPDATE is also the row lock that serialises
    -- "never leave a tenant without an owner".
    membership_version BIGINT NOT NULL DEFAULT 0,
    created_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    firebase_uid TEXT NOT NULL UNIQUE CHECK (length(firebase_uid) BETWEEN 1 AND 128),
    email        TEXT,
    display_name TEXT,
    role         TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_tenant_idx ON users (tenant_id);

CREATE TABLE licenses (
    id                     UUID PRIMARY KEY,
    tenant_id              UUID NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    tier                   TEXT NOT NULL CHECK (tier IN ('FREE', 'PRO', 'TEAM', 'ENTERPRISE')),
    max_seats              INTEGER NOT NULL CHECK (max_seats >= 0),
    features               JSONB NOT NULL DEFAULT '[]',
    status                 TEXT NOT NULL CHECK (status IN ('ACTIVE', 'SUSPENDED', 'CANCELED')),
    expires_at             TIMESTAMPTZ,
    stripe_customer_id     TEXT UNIQUE,
    stripe_subscription_id TEXT UNIQUE,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL
);

CREATE TABLE invitations (
    id          UUID PRIMARY KEY,
    tenant_id   UUID NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email       TEXT NOT NULL CHECK (email = lower(email)),
    role        TEXT NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
    invited_by  UUID NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX invitations_email_idx ON invitations (email);
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id);

-- Stripe retries deliveries; a row per event id makes processing idempotent.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL
);

-- Append-only: the application never updates or deletes a row.
CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   UUID NOT NULL,
    license_id  UUID,
    user_id     UUID,
    action      TEXT NOT NULL,
    session_id  TEXT,
    detail      JSONB NOT NULL DEFAULT '{}',
    request_id  TEXT,
    occurred_at TIMESTAMPTZ NOT NULL,
    dedupe_key  TEXT UNIQUE
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant_id, id DESC);
