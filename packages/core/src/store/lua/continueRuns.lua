--[[
  Goes on with the start of runs whose tasks are not all evaluated yet (startRun evaluates
  the first START_CHUNK; the rest wait in the run's `evalNext` and the `starting-runs` set):
  evaluates the next START_CHUNK tasks of the oldest such run, enqueueing what is ready.
  Callers repeat it until it returns 0: the one that created or started the run, and the
  scheduler's loop for runs started inside other scripts or by a caller that died.
  A run no longer running, or gone, just leaves the set.
  ARGV: prefix, now
  Returns how many runs are still being started.
]]
--- @include "lib"
local prefix, now = ARGV[1], tonumber(ARGV[2])
local startingKey = prefix .. ':starting-runs'
local first = rcall('ZRANGE', startingKey, 0, 0)[1]
if not first then return 0 end
local bar = string.find(first, '|', 1, true)
local c = newCtx(prefix, string.sub(first, 1, bar - 1), string.sub(first, bar + 1), now)
local from = tonumber(rcall('HGET', c.runKey, 'evalNext'))
if not c.version or not from or rcall('HGET', c.runKey, 'state') ~= 'running' then
  rcall('ZREM', startingKey, first)
  if c.version then rcall('HDEL', c.runKey, 'evalNext') end
else
  local nextAt = evaluateTopo(c, from, START_CHUNK)
  if nextAt then
    rcall('HSET', c.runKey, 'evalNext', nextAt)
  else
    rcall('HDEL', c.runKey, 'evalNext')
    rcall('ZREM', startingKey, first)
  end
end
return rcall('ZCARD', startingKey)
