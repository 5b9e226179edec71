--[[
  Goes on with the start of runs whose tasks are not all evaluated yet (startRun evaluates
  the first START_CHUNK; the rest wait in the run's `evalNext` and the `starting-runs` set):
  evaluates the next START_CHUNK tasks of the oldest such run, enqueueing what is ready.
  Callers repeat it until it returns 0: the one that created or started a run (for its
  DAG's runs only), and the scheduler's loop (for all) for runs started inside other
  scripts or by a caller that died. A run no longer running, or gone, just leaves the set.
  KEYS[1]  starting-runs           runs whose start is under way
  (the keys of the run it goes on with: built from ARGV[1], see includes/keys)
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  now (ms)
  ARGV[3]  dagId ('' = any DAG)
  Emits    ti queued / skipped / upstream_failed / mapped for the tasks it evaluated
  Returns how many runs (of that DAG, with one) are still being started.
]]
--- @include "includes/run-context"
--- @include "includes/run-start"
local prefix, now, onlyDag = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local startingKey = KEYS[1]

-- The oldest run being started, of `onlyDag` when given, and how many there are.
local function oldest()
  if onlyDag == '' then return rcall('ZRANGE', startingKey, 0, 0)[1], rcall('ZCARD', startingKey) end
  local found, n = nil, 0
  local mine = onlyDag .. '|'
  for _, m in ipairs(rcall('ZRANGE', startingKey, 0, -1)) do
    if string.sub(m, 1, #mine) == mine then
      n = n + 1
      found = found or m
    end
  end
  return found, n
end

local first, n = oldest()
if not first then return 0 end
local bar = string.find(first, '|', 1, true)
local c = newCtx(prefix, string.sub(first, 1, bar - 1), string.sub(first, bar + 1), now)
local from = tonumber(rcall('HGET', c.runKey, 'evalNext'))
if not c.version or not from or rcall('HGET', c.runKey, 'state') ~= 'running' then
  endStart(c)
  return n - 1
end
if startStep(c, from) then return n - 1 end
return n
