-- A waiting machine leaves the queue (after prune.lua). ARGV: the ticket, the machine
-- (user:fingerprint) that asks. Only the machine whose ticket it is can take it out. Returns 1 when
-- the ticket left (a 'left' event, reason 'left'), 0 when it was not queued (already claimed,
-- lapsed, left, or another machine's).
local ticket, holder = ARGV[1], ARGV[2]
if redis.call('HGET', waiters, holder) ~= ticket then
  return 0
end
if leave(ticket, 'left', now) then
  return 1
end
return 0
