-- Rate limits (GCRA, see limits.rs): shared by acquire.lua and release.lua, after prune.lua (whose
-- `clock` it reads). A limit of `calls` per `window_us` keeps its theoretical arrival time (TAT,
-- µs since the epoch) in one string key under the license's hash tag, expiring when the bucket is
-- full again. Integers stay exact: µs since the epoch are below 2^53.
local now_us = tonumber(clock[1]) * 1000000 + tonumber(clock[2])

-- The TAT a call may move the limit to, or nil and the µs until a call would pass. A limit with
-- no calls (0 or absent) is off: it passes without reading or writing anything.
local function rate_check(key, calls, window_us)
  if not calls or calls <= 0 or not window_us or window_us <= 0 then return 0, 0 end
  local interval = math.max(1, math.floor(window_us / calls))
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now_us then tat = now_us end
  local wait = tat + interval - now_us - window_us
  if wait > 0 then return nil, wait end
  return tat + interval, 0
end

-- Records a call that rate_check let through (nothing for a limit that is off).
local function rate_take(key, tat)
  if tat == 0 then return end
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.ceil((tat - now_us) / 1000))
end
