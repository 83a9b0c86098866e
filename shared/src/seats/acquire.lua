-- Acquire a seat (after prune.lua and rate.lua). ARGV: max_seats, ttl_ms, holder, new session id,
-- session JSON, then the limits: per-machine calls and window (µs), per-license calls and window
-- (0 = off). KEYS[7] the machine's limit, KEYS[8] the license's (see limits.rs).
-- Returns {'renewed'|'granted', session, expires_at_ms, in_use, grant}, {'full', in_use,
-- earliest_expiry_ms} or {'limited', 'machine'|'license', wait_us}. The grant numbers the
-- session's grants (1 when new, one more per renewal); its lease carries it (see release.lua).
local max_seats, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local holder, new_session, data = ARGV[3], ARGV[4], ARGV[5]

-- A limited call changes nothing: no seat, no denial count, no limit charged. The machine's own
-- limit applies to every call; the license's only to machines that hold no seat, so a machine
-- renewing its seat is never shut out by its neighbours' storm.
local machine_tat, machine_wait = rate_check(KEYS[7], tonumber(ARGV[6]), tonumber(ARGV[7]))
if not machine_tat then
  return {'limited', 'machine', string.format('%.0f', machine_wait)}
end

-- No TTL on the pool's keys: Redis deletes a sorted set or hash when its last member goes, and
-- every member goes through prune or release, so an abandoned pool leaves nothing behind (and a
-- seat that heartbeats for weeks never loses its keys).
-- The same user on the same machine gets the session it already has, even in a full pool.
local existing = redis.call('HGET', holders, holder)
if existing and redis.call('ZSCORE', seats, existing) then
  local expires = now + ttl
  redis.call('ZADD', seats, 'XX', expires, existing)
  local grant = redis.call('HINCRBY', grants, existing, 1)
  rate_take(KEYS[7], machine_tat)
  return {'renewed', existing, tostring(expires), tostring(redis.call('ZCARD', seats)), tostring(grant)}
end

local license_tat, license_wait = rate_check(KEYS[8], tonumber(ARGV[8]), tonumber(ARGV[9]))
if not license_tat then
  return {'limited', 'license', string.format('%.0f', license_wait)}
end
rate_take(KEYS[7], machine_tat)
rate_take(KEYS[8], license_tat)

local in_use = redis.call('ZCARD', seats)
if in_use < max_seats then
  local expires = now + ttl
  redis.call('ZADD', seats, expires, new_session)
  redis.call('HSET', sessions, new_session, data)
  redis.call('HSET', holders, holder, new_session)
  redis.call('HSET', grants, new_session, 1)
  append('acquired', new_session, data, now, in_use + 1)
  return {'granted', new_session, tostring(expires), tostring(in_use + 1), '1'}
end

-- A denial adds one to the machine's pending count instead of appending an event, so a client
-- retrying a full pool costs one small hash field however often it retries; flush_denials.lua moves
-- the count into the stream as one event. The value packs 'count first_ms last_ms in_use data',
-- keeping the first denial's data (the same user and machine: only the hostname could differ).
local earliest = redis.call('ZRANGE', seats, 0, 0, 'WITHSCORES')
local pending = redis.call('HGET', denials, holder)
local count, first, rest = 1, now, data
if pending then
  local c, f, tail = string.match(pending, '^(%d+) (%d+) %d+ %d+ (.*)$')
  count, first, rest = tonumber(c) + 1, f, tail
end
redis.call('HSET', denials, holder, count .. ' ' .. first .. ' ' .. now .. ' ' .. in_use .. ' ' .. rest)
return {'full', tostring(in_use), earliest[2] or tostring(now)}
