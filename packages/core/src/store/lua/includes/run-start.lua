--[[
  Run start: a queued run becomes running and its tasks are evaluated in topological order,
  START_CHUNK per script call (the rest by continueRuns), so a huge run does not hold Redis;
  queued runs of a DAG start, oldest logical date first, while fewer than maxActiveRuns run.
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/evaluate"

-- Tasks a run start evaluates in one script call. The rest follow in further calls
-- (continueRuns), so starting a 10,000-task run does not hold Redis for a quarter of a
-- second, and workers start on the first tasks while the others are still being queued.
local START_CHUNK = 500

-- Evaluates the run's tasks in topological order from position `from`, at most `limit` of
-- them (all without). Returns the position to go on from, or nil when every task was.
local function evaluateTopo(c, from, limit)
  local topo = graphList(c, '__topo')
  local last = #topo
  if limit and from + limit - 1 < last then last = from + limit - 1 end
  for i = from, last do
    local task = topo[i]
    evaluate(c, task)
    local n = node(c, task)
    if n.m and n.m.g and not tiState(c, task) then evaluateCopies(c, task) end
    if #c.work > 0 then drain(c) end
  end
  drain(c)
  if last < #topo then return last + 1 end
  return nil
end

-- A run start under way is over: nothing is left for continueRuns.
local function endStart(c)
  rcall('HDEL', c.runKey, 'evalNext')
  rcall('ZREM', Keys.startingRuns(c.p), c.dag .. '|' .. c.run)
end

-- One step of a run start: START_CHUNK tasks from position `from` (1 for the first step).
-- Until the last step, the run's `evalNext` says where the next goes on, and the run waits
-- in `starting-runs` (by the time its start began). Returns true when every task was evaluated.
local function startStep(c, from)
  local nextAt = evaluateTopo(c, from, START_CHUNK)
  if nextAt then
    rcall('HSET', c.runKey, 'evalNext', nextAt)
    if from == 1 then rcall('ZADD', Keys.startingRuns(c.p), c.now, c.dag .. '|' .. c.run) end
    SHARED.starting = true
    return false
  end
  if from > 1 then endStart(c) end
  return true
end

-- Evaluates every task of the run (sweep, clear); a start still under way is then done.
local function evaluateAll(c)
  evaluateTopo(c, 1)
  endStart(c)
end

local function startRun(c)
  rcall('HSET', c.runKey, 'state', 'running', 'startDate', c.now)
  rcall('SADD', c.activeRunsKey, c.run)
  rcall('ZREM', c.queuedRunsKey, c.run)
  emit(c, 'run', nil, 'running')
  startStep(c, 1)
end

-- Starts queued runs of a DAG, oldest logical date first, while fewer than maxActiveRuns run.
-- `d`: the DAG's keys (dagCtx), or the context of one of its runs.
startQueuedRuns = function(d, now, maxActiveRuns)
  local started = 0
  local paused = rcall('HGET', d.dagKey, 'paused')
  if paused == '1' then return 0 end
  while true do
    local active = rcall('SCARD', d.activeRunsKey)
    if active >= maxActiveRuns then break end
    local next = rcall('ZRANGE', d.queuedRunsKey, 0, 0)
    if #next == 0 then break end
    local c = newCtx(d.p, d.dag, next[1], now)
    if rcall('HGET', c.runKey, 'state') == 'queued' then
      startRun(c)
      started = started + 1
    else
      rcall('ZREM', d.queuedRunsKey, next[1])
    end
  end
  return started
end
