-- Release a seat (after prune.lua, which records any expiry first, and rate.lua). ARGV: session,
-- the machine's release limit (calls and window in µs, 0 = off), then the grant the lease carries
-- (0 for a lease issued before grants were numbered); KEYS[7] that limit's key.
-- Only the lease of the session's latest grant frees it: the same user on the same machine shares
-- one session, so when a second process re-acquires (a renewal, grant + 1), the first process's
-- older lease (expired or not) must not free the seat the second one now runs on. Such a release,
-- like one of a session that is gone, records nothing and returns 2 (superseded) or 0 (gone), or
-- -wait_us when the machine's limit refuses it. Only these no-op releases are limited: one that
-- frees a seat always passes (each needs a grant, which acquire's limits bound). Returns 1 when
-- freed.
local session, grant = ARGV[1], tonumber(ARGV[4]) or 0
local superseded = tonumber(redis.call('HGET', grants, session) or '0') > grant
if superseded or redis.call('ZREM', seats, session) == 0 then
  local tat, wait = rate_check(KEYS[7], tonumber(ARGV[2]), tonumber(ARGV[3]))
  if not tat then
    return -wait
  end
  rate_take(KEYS[7], tat)
  if superseded then
    return 2
  end
  return 0
end
append('released', session, forget(session), now)
return 1
