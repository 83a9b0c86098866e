-- Shared head of acquire.lua, release.lua and reap.lua (prepended by seats/mod.rs).
-- KEYS[1] seats ZSET (session -> expiry ms), KEYS[2] sessions HASH (session -> JSON),
-- KEYS[3] holders HASH (user:fingerprint -> session), KEYS[4] events STREAM,
-- KEYS[5] denials HASH (user:fingerprint -> pending denial count, see acquire.lua), KEYS[6] grants
-- HASH (session -> how many times it was granted: 1, then one more per renewal; see release.lua),
-- KEYS[7] borrowed HASH (session -> end of its borrow, ms), KEYS[8] users HASH (user -> live
-- sessions it holds, for the per-user cap), then the fair queue: KEYS[9] queue ZSET (ticket -> its
-- place, increasing), KEYS[10] tickets HASH (ticket -> 'joined_ms data'), KEYS[11] waiters HASH
-- (user:fingerprint -> its ticket: one per machine), KEYS[12] ticket deadlines ZSET (ticket -> when
-- it leaves unless polled, ms), KEYS[13] frees HASH ('last' ms, 'gap' ms: the running mean time
-- between two seats freeing, for the queue's estimate; expires an hour after the last).
-- Every expired member is moved to the events stream as 'expired' before it is removed, so no
-- expiry goes unrecorded; every ticket past its deadline leaves the queue with a 'left' event
-- (reason 'expired'). All thirteen keys share the {lic:<id>} hash tag.
local seats, sessions, holders, events, denials, grants, borrowed, users =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local queue, tickets, waiters, deadlines, frees = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

-- No MAXLEN: an event leaves the stream only when cleanup has written it to the audit table
-- (ack_events.lua). A drained, empty stream is given a TTL there, so PERSIST clears it as soon as
-- the stream holds an event again: nothing undrained ever expires.
-- `fields`: more name, value pairs (a queue event's ticket, position, waited, reason).
local function append(kind, session, data, at, extra, until_ms, fields)
  local args = {events, '*', 'kind', kind, 'session', session, 'data', data, 'at', tostring(at)}
  if extra then table.insert(args, 'in_use'); table.insert(args, tostring(extra)) end
  if until_ms then table.insert(args, 'until'); table.insert(args, tostring(until_ms)) end
  for _, value in ipairs(fields or {}) do table.insert(args, tostring(value)) end
  redis.call('XADD', unpack(args))
  redis.call('PERSIST', events)
end

-- A seat freed at `at`: the running mean of the time between frees moves towards this gap (the
-- queue's estimate of when a waiter's seat frees). Forgotten after an hour without a free.
local function freed(at)
  local last = tonumber(redis.call('HGET', frees, 'last') or '0')
  if last > 0 and at > last then
    local gap = at - last
    local mean = tonumber(redis.call('HGET', frees, 'gap') or '0')
    if mean > 0 then gap = math.floor(mean * 0.7 + gap * 0.3) end
    redis.call('HSET', frees, 'gap', gap)
  end
  if at > last then redis.call('HSET', frees, 'last', at) end
  redis.call('PEXPIRE', frees, 3600000)
end

-- Takes `ticket` out of the queue; its 'joined_ms data' (nil when it was not queued).
local function unqueue(ticket)
  local info = redis.call('HGET', tickets, ticket)
  redis.call('ZREM', queue, ticket)
  redis.call('ZREM', deadlines, ticket)
  redis.call('HDEL', tickets, ticket)
  if not info then return nil end
  local joined, data = string.match(info, '^(%d+) (.*)$')
  local holder = cjson.decode(data)['holder']
  if holder and redis.call('HGET', waiters, holder) == ticket then
    redis.call('HDEL', waiters, holder)
  end
  return tonumber(joined), data
end

-- `ticket` leaves the queue without a seat ('left' or 'expired') at `at`; whether it was queued.
local function leave(ticket, reason, at)
  local joined, data = unqueue(ticket)
  if not joined then return false end
  append('left', ticket, data, at, nil, nil,
    {'ticket', ticket, 'waited', math.max(0, at - joined), 'reason', reason})
  return true
end

local function forget(session)
  redis.call('HDEL', grants, session)
  redis.call('HDEL', borrowed, session)
  local data = redis.call('HGET', sessions, session)
  if data then
    redis.call('HDEL', sessions, session)
    local decoded = cjson.decode(data)
    local holder, user = decoded['holder'], decoded['user']
    if holder and redis.call('HGET', holders, holder) == session then
      redis.call('HDEL', holders, holder)
    end
    if user and redis.call('HINCRBY', users, user, -1) <= 0 then
      redis.call('HDEL', users, user)
    end
  end
  return data or '{}'
end

local expired = redis.call('ZRANGE', seats, '-inf', now, 'BYSCORE', 'WITHSCORES')
for i = 1, #expired, 2 do
  local session = expired[i]
  redis.call('ZREM', seats, session)
  append('expired', session, forget(session), expired[i + 1])
  freed(tonumber(expired[i + 1]))
end
local lapsed = redis.call('ZRANGE', deadlines, '-inf', now, 'BYSCORE', 'WITHSCORES')
for i = 1, #lapsed, 2 do
  leave(lapsed[i], 'expired', tonumber(lapsed[i + 1]))
end
