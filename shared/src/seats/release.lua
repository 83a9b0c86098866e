-- Release a seat (after prune.lua, which records any expiry first, and rate.lua). ARGV: session,
-- then the machine's release limit: calls and window (µs), 0 = off; KEYS[6] that limit's key.
-- Idempotent: releasing a session that is gone records nothing and returns 0, or -wait_us when
-- the machine's limit refuses it. Only such no-op releases are limited: one that frees a seat
-- always passes (each needs a grant, which acquire's limits bound). Returns 1 when freed.
local session = ARGV[1]
if redis.call('ZREM', seats, session) == 0 then
  local tat, wait = rate_check(KEYS[6], tonumber(ARGV[2]), tonumber(ARGV[3]))
  if not tat then
    return -wait
  end
  rate_take(KEYS[6], tat)
  return 0
end
append('released', session, forget(session), now)
return 1
