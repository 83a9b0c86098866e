-- The usage report's figures of the whole period that buckets cannot add up: the queue-wait
-- percentiles and the seats that would have avoided 50, 90 and 100 percent of the denials.
-- One text for PostgreSQL and SQLite (see usage_buckets.sql).
--
-- Parameters: 1 tenant, 2 from and 3 to (timestamps, to exclusive), 4 the license's seats (the
-- seats in use of a denial row that lacks detail.in_use).
--
-- Demand at a denial row = the seats in use then + the distinct machines (user, fingerprint)
-- refused in the same UTC minute. S avoids N percent when the denials (weighted by count) of
-- demand at most S are at least N percent of all: the smallest such S is the answer.
WITH waits AS (
    SELECT CAST(CAST(detail ->> 'waited_ms' AS NUMERIC) AS BIGINT) AS waited
    FROM audit_events
    WHERE tenant_id = $1 AND action = 'queue.claimed'
      AND occurred_at >= $2 AND occurred_at < $3
      AND detail ->> 'waited_ms' IS NOT NULL
),
ranked_waits AS (
    SELECT waited, ROW_NUMBER() OVER (ORDER BY waited) AS nth, COUNT(*) OVER () AS n
    FROM waits
),
refusals AS (
    SELECT CAST(round((julianday(occurred_at) - 2440587.5) * 86400000.0) AS BIGINT) / 60000 AS minute, user_id, detail ->> 'fingerprint' AS machine,
           COALESCE(CAST(CAST(detail ->> 'count' AS NUMERIC) AS BIGINT), 1) AS refused,
           CAST(CAST(detail ->> 'in_use' AS NUMERIC) AS BIGINT) AS in_use
    FROM audit_events
    WHERE tenant_id = $1 AND action = 'seat.denied'
      AND occurred_at >= $2 AND occurred_at < $3
      AND detail ->> 'reason' = 'seats_exhausted'
),
machines_refused AS (
    SELECT minute, COUNT(*) AS machines
    FROM (SELECT minute, user_id, machine FROM refusals GROUP BY minute, user_id, machine) AS m
    GROUP BY minute
),
demand AS (
    SELECT r.refused, COALESCE(r.in_use, $4) + m.machines AS seats
    FROM refusals AS r JOIN machines_refused AS m ON m.minute = r.minute
),
cumulative AS (
    SELECT seats,
           SUM(refused) OVER (ORDER BY seats) AS covered,
           SUM(refused) OVER () AS total
    FROM demand
)
SELECT
    (SELECT MAX(CASE WHEN nth = (n * 50 + 99) / 100 THEN waited END) FROM ranked_waits) AS median,
    (SELECT MAX(CASE WHEN nth = (n * 95 + 99) / 100 THEN waited END) FROM ranked_waits) AS p95,
    (SELECT MIN(seats) FROM cumulative WHERE covered * 100 >= total * 50) AS seats_50,
    (SELECT MIN(seats) FROM cumulative WHERE covered * 100 >= total * 90) AS seats_90,
    (SELECT MIN(seats) FROM cumulative WHERE covered * 100 >= total * 100) AS seats_100
