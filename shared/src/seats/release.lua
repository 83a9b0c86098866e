-- Release a seat (after prune.lua, which records any expiry first, and rate.lua). ARGV: session,
-- the machine's release limit (calls and window in µs, 0 = off), the grant the lease carries
-- (0 for a lease issued before grants were numbered), then 1 when the release ends a borrow (a
-- return, an admin) or 0; KEYS[14] that limit's key.
-- A borrowed seat is held without its program running: a program's ordinary release on exit
-- leaves it held (returns 3); only a return (or an admin) frees it before its end.
-- Only the lease of the session's latest grant frees it: the same user on the same machine shares
-- one session, so when a second process re-acquires (a renewal, grant + 1), the first process's
-- older lease (expired or not) must not free the seat the second one now runs on. Such a release,
-- like one of a session that is gone, records nothing and returns 2 (superseded) or 0 (gone), or
-- -wait_us when the machine's limit refuses it. Only these no-op releases are limited: one that
-- frees a seat always passes (each needs a grant, which acquire's limits bound). Returns 1 when
-- freed.
local session, grant, ends_borrow = ARGV[1], tonumber(ARGV[4]) or 0, ARGV[5] == '1'
local superseded = tonumber(redis.call('HGET', grants, session) or '0') > grant
if not superseded and not ends_borrow
  and tonumber(redis.call('HGET', borrowed, session) or '0') > now
  and redis.call('ZSCORE', seats, session) then
  return 3
end
if superseded or redis.call('ZREM', seats, session) == 0 then
  local tat, wait = rate_check(KEYS[14], tonumber(ARGV[2]), tonumber(ARGV[3]))
  if not tat then
    return -wait
  end
  rate_take(KEYS[14], tat)
  if superseded then
    return 2
  end
  return 0
end
append('released', session, forget(session), now)
freed(now)
return 1
