-- Forget drained events. KEYS[1] events STREAM; ARGV: the ids cleanup has written to the audit table.
-- XDEL rather than DEL keeps the stream's last id, so a later event never reuses an id (the audit
-- dedupe key is the license and the id). A stream left empty expires after a week without events,
-- so a license nobody uses any more leaves nothing behind; the next append PERSISTs it again.
local KEEP_EMPTY_MS = 7 * 24 * 3600 * 1000
for i = 1, #ARGV, 1000 do
  redis.call('XDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if redis.call('XLEN', KEYS[1]) == 0 then
  redis.call('PEXPIRE', KEYS[1], KEEP_EMPTY_MS)
end
return 0
