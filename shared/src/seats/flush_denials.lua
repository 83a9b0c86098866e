-- Move pending denial counts into the event stream, one 'denied' event per machine.
-- KEYS[1] denials HASH (user:fingerprint -> 'count first_ms last_ms in_use data', see acquire.lua),
-- KEYS[2] events STREAM. ARGV[1]: at most this many counts per call, so one call never blocks
-- Redis for long; the caller repeats while some remain. Returns {moved, remaining}.
-- Each count leaves the hash in the same step that appends its event, so a denial is counted
-- exactly once: either in a moved event or in the fresh count acquire.lua starts afterwards.
local denials, events, max = KEYS[1], KEYS[2], tonumber(ARGV[1])
local cursor, moved = '0', 0
repeat
  local page = redis.call('HSCAN', denials, cursor, 'COUNT', 100)
  cursor = page[1]
  local fields = page[2]
  for i = 1, #fields, 2 do
    local count, first, last, in_use, data = string.match(fields[i + 1], '^(%d+) (%d+) (%d+) (%d+) (.*)$')
    if not count then
      -- Not written by acquire.lua: kept as an event whose data cleanup cannot read (it logs it).
      local clock = redis.call('TIME')
      count, first, in_use, data = '1', clock[1] .. '000', '0', fields[i + 1]
      last = first
    end
    redis.call('XADD', events, '*', 'kind', 'denied', 'session', '', 'data', data, 'at', first,
      'in_use', in_use, 'count', count, 'last', last)
    redis.call('HDEL', denials, fields[i])
    moved = moved + 1
  end
until cursor == '0' or moved >= max
if moved > 0 then redis.call('PERSIST', events) end
return {moved, redis.call('HLEN', denials)}
