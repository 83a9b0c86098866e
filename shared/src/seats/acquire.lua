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

local earliest = redis.call('ZRANGE', seats, 0, 0, 'WITHSCORES')
append('denied', '', data, now, in_use)
return {'full', tostring(in_use), earliest[2] or tostring(now)}
