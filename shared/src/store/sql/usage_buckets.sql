-- The usage report's buckets (shared/src/store/sql/usage.rs binds the parameters): one row per
-- UTC hour or day touching the period, with its seats in use, denials, borrows and queue figures.
-- One text for PostgreSQL and SQLite: CTEs, window functions, the ->> operator and integer
-- arithmetic on milliseconds, which both have; julianday() is SQLite's, and migration 0004
-- defines it for PostgreSQL. Rows are chosen by occurred_at (indexed, and in time order on both:
-- SQLite stores one RFC 3339 form in UTC) and counted in milliseconds since the Unix epoch.
--
-- Parameters: 1 tenant, 2 from and 3 to (timestamps, to exclusive), 4 from and 5 to in ms,
-- 6 bucket length (ms), 7 start of the first bucket (from rounded down to the bucket, ms),
-- 8 how many buckets, 9 where the seat events are read from (the time of the last grant before
-- from, or from: usage.rs asks first, so each database plans this statement knowing how many
-- rows it reads).
--
-- Seats in use are a step function rebuilt from the seat events: each seat.acquired sets the
-- level to its detail.in_use (the seat store's own count after the grant), every release or
-- expiry takes one off. The rows start at the last grant before the period (or at the period,
-- level 0, when there is none), so the level carried into the period is known. They come in
-- (occurred_at, id) order from the seat events' index of migration 0004, which holds all the
-- statement reads of them: the first window sorts nothing, and SQLite reads no table row.
WITH RECURSIVE
-- 0 .. n-1: every bucket appears, also without events.
bucket (idx) AS (
    SELECT CAST(0 AS BIGINT)
    UNION ALL
    SELECT idx + 1 FROM bucket WHERE idx + 1 < $8
),
seat_events AS (
    SELECT occurred_at, id, CAST(round((julianday(occurred_at) - 2440587.5) * 86400000.0) AS BIGINT) AS ms,
           CASE WHEN action = 'seat.acquired'
                THEN CAST(CAST(detail ->> 'in_use' AS NUMERIC) AS BIGINT) END AS anchor,
           -- A grant without its count (none is written so) counts one up.
           CASE WHEN action <> 'seat.acquired' THEN -1
                WHEN detail ->> 'in_use' IS NULL THEN 1 ELSE 0 END AS delta
    FROM audit_events
    WHERE tenant_id = $1
      AND occurred_at >= $9
      AND occurred_at < $3
      AND action IN ('seat.acquired', 'seat.released', 'seat.expired')
),
-- Running in time order: the row's place (an integer the next window sorts on quickly), how
-- many grants so far (the run a row belongs to) and the sum of the releases and expiries so far
-- (a grant's own row adds nothing).
running AS (
    SELECT ms, anchor,
           ROW_NUMBER() OVER w AS nth,
           COUNT(anchor) OVER w AS run,
           SUM(delta) OVER w AS fall
    FROM seat_events
    WINDOW w AS (ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING)
),
-- The level is fall + (the latest grant's in_use - fall at that grant): that correction is a
-- running maximum of run * 2^32 + (correction + 2^31), as the run only grows (no partition, so
-- no second sort by run). Each level holds until the next event (or the period's end).
levels AS (
    SELECT ms,
           CASE WHEN ms < $4 THEN -1 ELSE (ms - $7) / $6 END AS idx,
           COALESCE(LEAD(ms) OVER w, $5) AS next_ms,
           fall + COALESCE(MAX(CASE WHEN anchor IS NOT NULL
                                    THEN run * 4294967296 + (anchor - fall + 2147483648) END)
                               OVER w % 4294967296 - 2147483648, 0) AS level
    FROM running
    WINDOW w AS (ORDER BY nth ROWS UNBOUNDED PRECEDING)
),
-- How long each level holds inside its bucket, and whether its event is the bucket's last (the
-- next one is past the bucket's end). Below zero (a release the trail shows no grant for)
-- counts as none.
held AS (
    SELECT idx, ms,
           CASE WHEN level > 0 THEN level ELSE 0 END AS level,
           CASE WHEN next_ms < $7 + (idx + 1) * $6 THEN next_ms
                ELSE $7 + (idx + 1) * $6 END - ms AS span,
           CASE WHEN next_ms >= $7 + (idx + 1) * $6 THEN 1 ELSE 0 END AS last_in_bucket
    FROM levels
),
-- Per bucket with events (-1: before the period): its first event's time, the seat-ms and peak
-- of its events up to its end (a level held for no time is no peak), and the level it ends at.
event_buckets AS (
    SELECT idx,
           MIN(ms) AS first_ms,
           CAST(SUM(level * CASE WHEN span > 0 THEN span ELSE 0 END) AS BIGINT) AS seat_ms,
           MAX(CASE WHEN span > 0 THEN level END) AS peak,
           MAX(CASE WHEN last_in_bucket = 1 THEN level END) AS exit_level
    FROM held
    GROUP BY idx
),
-- Every bucket with the level carried into it: the exit level of the latest bucket before it
-- that had events (again a running maximum, of (idx + 2) * 2^32 + level), and its part of the
-- period.
carried AS (
    SELECT b.idx, e.first_ms, e.seat_ms, e.peak,
           COALESCE(MAX(CASE WHEN e.exit_level IS NOT NULL
                             THEN (b.idx + 2) * 4294967296 + e.exit_level END)
                        OVER (ORDER BY b.idx ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                    % 4294967296, 0) AS carry,
           CASE WHEN $7 + b.idx * $6 < $4 THEN $4 ELSE $7 + b.idx * $6 END AS start_ms,
           CASE WHEN $7 + (b.idx + 1) * $6 > $5 THEN $5 ELSE $7 + (b.idx + 1) * $6 END AS end_ms
    FROM (SELECT idx FROM bucket UNION ALL SELECT -1) AS b
    LEFT JOIN event_buckets AS e ON e.idx = b.idx
),
seat_buckets AS (
    SELECT idx,
           -- The carried level counts for the peak when it held for some time.
           CASE WHEN COALESCE(first_ms, end_ms) > start_ms AND carry > COALESCE(peak, 0)
                THEN carry ELSE COALESCE(peak, 0) END AS peak,
           carry * (COALESCE(first_ms, end_ms) - start_ms) + COALESCE(seat_ms, 0) AS seat_ms,
           end_ms - start_ms AS covered_ms
    FROM carried
    WHERE idx >= 0
),
-- The period's other events, read once for the counts and the waits.
other_events AS (
    SELECT (CAST(round((julianday(occurred_at) - 2440587.5) * 86400000.0) AS BIGINT) - $7) / $6 AS idx, action, detail
    FROM audit_events
    WHERE tenant_id = $1
      AND action IN ('seat.denied', 'seat.borrowed', 'queue.joined', 'queue.claimed', 'queue.left')
      AND occurred_at >= $2 AND occurred_at < $3
),
-- Denials count their detail.count; the per-user cap apart (more seats would not help).
tallies AS (
    SELECT idx,
           CAST(SUM(CASE WHEN action = 'seat.denied' AND detail ->> 'reason' = 'seats_exhausted'
                         THEN COALESCE(CAST(CAST(detail ->> 'count' AS NUMERIC) AS BIGINT), 1)
                         ELSE 0 END) AS BIGINT) AS denials,
           CAST(SUM(CASE WHEN action = 'seat.denied' AND detail ->> 'reason' = 'user_seat_limit'
                         THEN COALESCE(CAST(CAST(detail ->> 'count' AS NUMERIC) AS BIGINT), 1)
                         ELSE 0 END) AS BIGINT) AS user_cap_denials,
           CAST(SUM(CASE WHEN action = 'seat.borrowed' THEN 1 ELSE 0 END) AS BIGINT) AS borrowed,
           CAST(SUM(CASE WHEN action = 'queue.joined' THEN 1 ELSE 0 END) AS BIGINT) AS joined,
           CAST(SUM(CASE WHEN action = 'queue.claimed' THEN 1 ELSE 0 END) AS BIGINT) AS claimed,
           CAST(SUM(CASE WHEN action = 'queue.left' THEN 1 ELSE 0 END) AS BIGINT) AS abandoned
    FROM other_events
    GROUP BY idx
),
waits AS (
    SELECT idx, CAST(CAST(detail ->> 'waited_ms' AS NUMERIC) AS BIGINT) AS waited
    FROM other_events
    WHERE action = 'queue.claimed' AND detail ->> 'waited_ms' IS NOT NULL
),
ranked_waits AS (
    SELECT idx, waited,
           ROW_NUMBER() OVER (PARTITION BY idx ORDER BY waited) AS nth,
           COUNT(*) OVER (PARTITION BY idx) AS n
    FROM waits
),
-- Nearest rank: the ceil(p * n)-th smallest wait, as integers.
wait_figures AS (
    SELECT idx,
           MAX(CASE WHEN nth = (n * 50 + 99) / 100 THEN waited END) AS median,
           MAX(CASE WHEN nth = (n * 95 + 99) / 100 THEN waited END) AS p95
    FROM ranked_waits
    GROUP BY idx
)
SELECT b.idx, s.peak, s.seat_ms, s.covered_ms,
       COALESCE(t.denials, 0) AS denials, COALESCE(t.user_cap_denials, 0) AS user_cap_denials,
       COALESCE(t.borrowed, 0) AS borrowed, COALESCE(t.joined, 0) AS joined,
       COALESCE(t.claimed, 0) AS claimed, COALESCE(t.abandoned, 0) AS abandoned,
       w.median, w.p95
FROM bucket AS b
JOIN seat_buckets AS s ON s.idx = b.idx
LEFT JOIN tallies AS t ON t.idx = b.idx
LEFT JOIN wait_figures AS w ON w.idx = b.idx
ORDER BY b.idx
