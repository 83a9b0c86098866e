-- The live sessions of a license with their data. KEYS[1] seats ZSET, KEYS[2] sessions HASH,
-- KEYS[3] borrowed HASH. Returns a flat list: session, expiry ms, JSON, borrow end ms (0: not
-- borrowed), then the next session's four, ...
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local live = redis.call('ZRANGE', KEYS[1], '(' .. now, '+inf', 'BYSCORE', 'WITHSCORES')
local out = {}
for i = 1, #live, 2 do
  table.insert(out, live[i])
  table.insert(out, live[i + 1])
  table.insert(out, redis.call('HGET', KEYS[2], live[i]) or '{}')
  local until_ms = tonumber(redis.call('HGET', KEYS[3], live[i]) or '0')
  if until_ms <= now then until_ms = 0 end
  table.insert(out, string.format('%.0f', until_ms))
end
return out
