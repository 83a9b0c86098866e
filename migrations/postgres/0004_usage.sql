-- The usage report (GET /api/v1/tenants/{id}/usage) reads the audit trail by tenant, action and
-- time, in SQL that is one text on both databases (shared/src/store/sql/usage_*.sql). It counts
-- time in milliseconds through SQLite's julianday(); this is that function for PostgreSQL (days
-- since noon, 24 November 4714 BC, UTC, as a double: exact to well under a millisecond).
CREATE FUNCTION julianday(at TIMESTAMPTZ) RETURNS DOUBLE PRECISION
    LANGUAGE SQL IMMUTABLE STRICT PARALLEL SAFE
    RETURN CAST(EXTRACT(EPOCH FROM (at - TIMESTAMPTZ '1970-01-01 00:00:00+00')) AS DOUBLE PRECISION)
           / 86400.0 + 2440587.5;
-- The report's counts and the last grant before a period: by action, then time.
CREATE INDEX audit_events_usage_idx ON audit_events (tenant_id, action, occurred_at);
-- The seat events in time order with the count a grant carries: rebuilding the seats in use
-- reads them from here alone (on SQLite without touching the table).
CREATE INDEX audit_events_seats_idx ON audit_events (tenant_id, occurred_at, action, (detail ->> 'in_use'))
    WHERE action IN ('seat.acquired', 'seat.released', 'seat.expired');
