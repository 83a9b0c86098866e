-- Acquire a seat (after prune.lua and rate.lua). ARGV: max_seats, ttl_ms, holder, new session id
-- (also the ticket's id when the caller joins the queue), session JSON, then the limits: per-
-- machine calls and window (µs), per-license calls and window (0 = off); then the most live seats
-- one user may hold (0 = no cap), how long to borrow the seat for in ms (0 = not a borrow), how
-- long a ticket of a caller that waits lives without being polled in ms (0 = the caller does not
-- wait), the longest the queue may grow, and the ticket a repeated poll expects this machine to
-- hold ('' for none: if the machine's ticket is another or none, it answers {'gone'} and changes
-- nothing, so a poll whose client has left never joins afresh nor takes a seat). The user is the session JSON's, as prune.lua reads it.
-- KEYS[14] the machine's limit, KEYS[15] the license's (see limits.rs).
-- Returns {'renewed'|'granted', session, expires_at_ms, in_use, grant, borrowed_until_ms (0 when
-- not borrowed), waited_ms (-1 when the seat came without the queue)}, {'full', in_use,
-- earliest_expiry_ms, queued}, {'user_full', held}, {'queued', ticket, position, queued,
-- estimated_wait_ms (-1: no estimate yet), in_use, deadline_ms} or {'limited', 'machine'|'license',
-- wait_us}. The grant numbers the session's grants (1 when new, one more per renewal); its lease
-- carries it (see release.lua).
-- A borrowed seat lives until its borrow ends without heartbeats: its score is the later of the
-- heartbeat expiry and the borrow's end, and it still counts against max_seats.
-- The queue is FIFO: while tickets wait, the free seats are theirs, the first ticket's first; a
-- caller without a ticket gets a seat only when more seats are free than tickets wait, so a seat
-- that frees is reserved for the head of the queue until it claims it or its ticket lapses.
local max_seats, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local holder, new_session, data = ARGV[3], ARGV[4], ARGV[5]
local per_user, borrow = tonumber(ARGV[10]) or 0, tonumber(ARGV[11]) or 0
local ticket_ttl, queue_max = tonumber(ARGV[12]) or 0, tonumber(ARGV[13]) or 0
local expected = ARGV[14] or ''
if expected ~= '' and redis.call('HGET', waiters, holder) ~= expected then
  return {'gone'}
end

-- A limited call changes nothing: no seat, no denial count, no limit charged. The machine's own
-- limit applies to every call; the license's only to machines that hold no seat, so a machine
-- renewing its seat is never shut out by its neighbours' storm.
local machine_tat, machine_wait = rate_check(KEYS[14], tonumber(ARGV[6]), tonumber(ARGV[7]))
if not machine_tat then
  return {'limited', 'machine', string.format('%.0f', machine_wait)}
end

-- No TTL on the pool's keys: Redis deletes a sorted set or hash when its last member goes, and
-- every member goes through prune or release, so an abandoned pool leaves nothing behind (and a
-- seat that heartbeats for weeks never loses its keys).
-- The same user on the same machine gets the session it already has, even in a full pool.
-- A borrow on a held seat sets the borrow's end afresh (longer or shorter, as the user asked).
local existing = redis.call('HGET', holders, holder)
if existing and redis.call('ZSCORE', seats, existing) then
  local until_ms = tonumber(redis.call('HGET', borrowed, existing) or '0')
  if until_ms > 0 and until_ms <= now then
    -- The borrow ended and heartbeats kept the seat: an ordinary seat again.
    redis.call('HDEL', borrowed, existing)
    until_ms = 0
  end
  if borrow > 0 then
    until_ms = now + borrow
    redis.call('HSET', borrowed, existing, until_ms)
    append('borrowed', existing, redis.call('HGET', sessions, existing) or data, now, nil, until_ms)
  end
  local expires = math.max(now + ttl, until_ms)
  redis.call('ZADD', seats, 'XX', expires, existing)
  local grant = redis.call('HINCRBY', grants, existing, 1)
  rate_take(KEYS[14], machine_tat)
  return {'renewed', existing, tostring(expires), tostring(redis.call('ZCARD', seats)),
    tostring(grant), tostring(until_ms), '-1'}
end

-- This machine's place in the queue, if it waits. A waiting machine polling its ticket is not
-- charged the license's limit: it polls once per long poll, and its own limit still applies.
local ticket = redis.call('HGET', waiters, holder)
if ticket and not redis.call('ZSCORE', queue, ticket) then
  redis.call('HDEL', waiters, holder)
  ticket = nil
end
local license_tat, license_wait = 0, 0
if not (ticket and ticket_ttl > 0) then
  license_tat, license_wait = rate_check(KEYS[15], tonumber(ARGV[8]), tonumber(ARGV[9]))
end
if not license_tat then
  return {'limited', 'license', string.format('%.0f', license_wait)}
end
rate_take(KEYS[14], machine_tat)
rate_take(KEYS[15], license_tat)

-- The per-user cap: this user's other machines already hold as many seats as one person may.
local user = cjson.decode(data)['user']
if per_user > 0 then
  local held = tonumber(redis.call('HGET', users, user) or '0')
  if held >= per_user then
    return {'user_full', tostring(held)}
  end
end

local in_use = redis.call('ZCARD', seats)
local queued = redis.call('ZCARD', queue)
-- The free seats are the waiting tickets' first: a ticket among the first `free` claims one; a
-- caller without a ticket needs a seat beyond those.
local free = max_seats - in_use
local waited = -1
local may_take = free > queued
if ticket then
  local rank = redis.call('ZRANK', queue, ticket)
  may_take = rank < free
  if may_take then
    local joined = unqueue(ticket)
    waited = math.max(0, now - joined)
  end
end
if may_take then
  local until_ms = 0
  if borrow > 0 then until_ms = now + borrow end
  local expires = math.max(now + ttl, until_ms)
  redis.call('ZADD', seats, expires, new_session)
  redis.call('HSET', sessions, new_session, data)
  redis.call('HSET', holders, holder, new_session)
  redis.call('HSET', grants, new_session, 1)
  redis.call('HINCRBY', users, user, 1)
  append('acquired', new_session, data, now, in_use + 1)
  if waited >= 0 then
    append('claimed', new_session, data, now, nil, nil, {'ticket', ticket, 'waited', waited})
  end
  if until_ms > 0 then
    redis.call('HSET', borrowed, new_session, until_ms)
    append('borrowed', new_session, data, now, nil, until_ms)
  end
  return {'granted', new_session, tostring(expires), tostring(in_use + 1), '1', tostring(until_ms),
    tostring(waited)}
end

-- No seat for this caller now. One that waits keeps (or takes) its place in the queue: a poll
-- moves its ticket's deadline on; a first wait joins at the back (a refusal counted as a denial
-- below, as the caller could not start). The estimate: a seat frees every `gap` ms on average
-- lately, and this ticket needs `position - free` of them.
local function estimate(position)
  local gap = tonumber(redis.call('HGET', frees, 'gap') or '0')
  if gap <= 0 then return '-1' end
  return string.format('%.0f', math.max(1, position - free) * gap)
end
if ticket and ticket_ttl > 0 then
  local deadline = now + ticket_ttl
  redis.call('ZADD', deadlines, 'XX', deadline, ticket)
  local position = redis.call('ZRANK', queue, ticket) + 1
  return {'queued', ticket, tostring(position), tostring(queued), estimate(position),
    tostring(in_use), tostring(deadline)}
end
local joined = nil
if ticket_ttl > 0 and not ticket and queued < queue_max then
  local last = redis.call('ZRANGE', queue, -1, -1, 'WITHSCORES')
  local place = tonumber(last[2] or '0') + 1
  redis.call('ZADD', queue, place, new_session)
  redis.call('HSET', tickets, new_session, now .. ' ' .. data)
  redis.call('HSET', waiters, holder, new_session)
  redis.call('ZADD', deadlines, now + ticket_ttl, new_session)
  append('queued', new_session, data, now, nil, nil,
    {'ticket', new_session, 'position', queued + 1})
  joined = {'queued', new_session, tostring(queued + 1), tostring(queued + 1),
    estimate(queued + 1), tostring(in_use), tostring(now + ticket_ttl)}
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
if joined then return joined end
return {'full', tostring(in_use), earliest[2] or tostring(now), tostring(queued)}
