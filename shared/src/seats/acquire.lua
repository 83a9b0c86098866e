-- Acquire a seat (after prune.lua). ARGV: max_seats, ttl_ms, holder, new session id, session JSON.
-- Returns {'renewed'|'granted', session, expires_at_ms, in_use} or {'full', in_use, earliest_expiry_ms}.
local max_seats, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local holder, new_session, data = ARGV[3], ARGV[4], ARGV[5]

-- No TTL on the pool's keys: Redis deletes a sorted set or hash when its last member goes, and
-- every member goes through prune or release, so an abandoned pool leaves nothing behind (and a
-- seat that heartbeats for weeks never loses its keys).
-- The same user on the same machine gets the session it already has, even in a full pool.
local existing = redis.call('HGET', holders, holder)
if existing and redis.call('ZSCORE', seats, existing) then
  local expires = now + ttl
  redis.call('ZADD', seats, 'XX', expires, existing)
  return {'renewed', existing, tostring(expires), tostring(redis.call('ZCARD', seats))}
end

local in_use = redis.call('ZCARD', seats)
if in_use < max_seats then
  local expires = now + ttl
  redis.call('ZADD', seats, expires, new_session)
  redis.call('HSET', sessions, new_session, data)
  redis.call('HSET', holders, holder, new_session)
  append('acquired', new_session, data, now, in_use + 1)
  return {'granted', new_session, tostring(expires), tostring(in_use + 1)}
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
