-- The usage report (GET /api/v1/tenants/{id}/usage) reads the audit trail by tenant, action and
-- time, in SQL that is one text on both databases (shared/src/store/sql/usage_*.sql; PostgreSQL's
-- migration adds the julianday() SQLite has). occurred_at is RFC 3339 text in UTC, written in
-- one form, so its order is time order.
-- The report's counts and the last grant before a period: by action, then time.
CREATE INDEX audit_events_usage_idx ON audit_events (tenant_id, action, occurred_at);
-- The seat events in time order with the count a grant carries: rebuilding the seats in use
-- reads them from this index alone, without touching the table.
CREATE INDEX audit_events_seats_idx ON audit_events (tenant_id, occurred_at, action, (detail ->> 'in_use'))
    WHERE action IN ('seat.acquired', 'seat.released', 'seat.expired');
