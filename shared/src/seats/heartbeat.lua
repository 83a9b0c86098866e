-- Extend a live seat. KEYS[1] seats ZSET. ARGV: session, ttl_ms.
-- A member whose expiry has passed is not revived, even if no prune has removed it yet: its seat
-- may already count as free, so reviving it could exceed the cap. A heartbeat never shortens a
-- seat (a borrowed one lives to its borrow's end). Returns the expiry or -1.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) <= now then
  return -1
end
local expires = math.max(now + tonumber(ARGV[2]), tonumber(score))
redis.call('ZADD', KEYS[1], 'XX', expires, ARGV[1])
return expires
