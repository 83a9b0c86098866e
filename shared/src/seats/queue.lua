-- The waiting tickets of a license, first first. KEYS[1] queue ZSET, KEYS[2] tickets HASH,
-- KEYS[3] ticket deadlines ZSET. A ticket past its deadline (not yet pruned) is not shown. Returns a
-- flat list: ticket, joined ms, deadline ms, session JSON, then the next ticket's four, ...
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local out = {}
for _, ticket in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local deadline = tonumber(redis.call('ZSCORE', KEYS[3], ticket) or '0')
  local info = redis.call('HGET', KEYS[2], ticket)
  if deadline > now and info then
    local joined, data = string.match(info, '^(%d+) (.*)$')
    table.insert(out, ticket)
    table.insert(out, joined)
    table.insert(out, string.format('%.0f', deadline))
    table.insert(out, data)
  end
end
return out
