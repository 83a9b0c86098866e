-- Shared head of acquire.lua, release.lua and reap.lua (prepended by seats/mod.rs).
-- KEYS[1] seats ZSET (session -> expiry ms), KEYS[2] sessions HASH (session -> JSON),
-- KEYS[3] holders HASH (user:fingerprint -> session), KEYS[4] events STREAM,
-- KEYS[5] denials HASH (user:fingerprint -> pending denial count, see acquire.lua), KEYS[6] grants
-- HASH (session -> how many times it was granted: 1, then one more per renewal; see release.lua).
-- Every expired member is moved to the events stream as 'expired' before it is removed, so no
-- expiry goes unrecorded; all six keys share the {lic:<id>} hash tag.
local seats, sessions, holders, events, denials, grants =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- No MAXLEN: an event leaves the stream only when cleanup has written it to the audit table
-- (ack_events.lua). A drained, empty stream is given a TTL there, so PERSIST clears it as soon as
-- the stream holds an event again: nothing undrained ever expires.
local function append(kind, session, data, at, extra)
  local args = {events, '*', 'kind', kind, 'session', session, 'data', data, 'at', tostring(at)}
  if extra then table.insert(args, 'in_use'); table.insert(args, tostring(extra)) end
  redis.call('XADD', unpack(args))
  redis.call('PERSIST', events)
end

local function forget(session)
  redis.call('HDEL', grants, session)
  local data = redis.call('HGET', sessions, session)
  if data then
    redis.call('HDEL', sessions, session)
    local holder = cjson.decode(data)['holder']
    if holder and redis.call('HGET', holders, holder) == session then
      redis.call('HDEL', holders, holder)
    end
  end
  return data or '{}'
end

local expired = redis.call('ZRANGE', seats, '-inf', now, 'BYSCORE', 'WITHSCORES')
for i = 1, #expired, 2 do
  local session = expired[i]
  redis.call('ZREM', seats, session)
  append('expired', session, forget(session), expired[i + 1])
end
