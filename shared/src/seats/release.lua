-- Release a seat (after prune.lua, which records any expiry first). ARGV: session.
-- Idempotent: releasing a session that is gone returns 0 and records nothing.
local session = ARGV[1]
if redis.call('ZREM', seats, session) == 0 then
  return 0
end
append('released', session, forget(session), now)
return 1
