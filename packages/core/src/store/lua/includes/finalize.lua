--[[
  Finalize: a task instance reaches a final state (success, failed, skipped,
  upstream_failed), gives back its pool slots, moves its mapped task's counts and queues its
  downstream for evaluation (drain, in evaluate); a run whose last instance finished gets
  its state, event and onSuccess / onFailure callback job.
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/pools"
--- @include "includes/jobs"

-- The DAG's onSuccess / onFailure for a run that just finished, counted per finish so a
-- cleared and re-finished run fires again, and a finish fires once.
local function runCallback(c, state, reason)
  local m = meta(c)
  local ref = m.cbs
  if state == 'failed' then ref = m.cbf end
  if not ref then return end
  local n = rcall('HINCRBY', c.runKey, 'finishes', 1)
  enqueueCallback(c, m.cbq, ref, 'finish' .. n,
    ',"state":' .. cjson.encode(state) .. ',"reason":' .. cjson.encode(reason or ''))
end

local function finishRun(c)
  local state = 'success'
  for _, leaf in ipairs(graphList(c, '__leaves')) do
    local s = tiState(c, leaf)
    if not s then
      local m = mapCounts(c, leaf)
      if m and m.failed + m.upstream_failed > 0 then s = 'failed' end
    end
    if s == 'failed' or s == 'upstream_failed' then state = 'failed' end
  end
  rcall('HSET', c.runKey, 'state', state, 'endDate', c.now)
  rcall('SREM', c.activeRunsKey, c.run)
  emit(c, 'run', nil, state)
  runCallback(c, state, nil)
end

-- Records a final state of a task instance and queues its downstream for evaluation. A
-- mapped instance also moves its task's counts, which the downstream trigger rules read.
-- `known`: what the caller read of the instance already, { prev = state, pool = pool field or
-- false }, so that nothing is read twice.
local function finalize(c, task, state, fields, detail, mi, known)
  mi = mi or UNMAPPED
  local prev = known and known.prev or tiState(c, task, mi)
  rcall('HSET', c.tisKey, task .. ':' .. mi, state)
  local key = tiKey(c, task, mi)
  if fields then
    rcall('HSET', key, 'state', state, 'endDate', c.now, unpack(fields))
  else
    rcall('HSET', key, 'state', state, 'endDate', c.now)
  end
  emit(c, 'ti', task, state, detail, mi)
  local tn = node(c, task)
  -- Only instances of a pooled task (or of any task while default_pool is configured) hold
  -- or wait for slots; pool deletion drops its holders, so nothing is missed when it goes.
  if prev == 'running' or prev == 'queued' or prev == 'up_for_retry' or prev == 'up_for_reschedule' then
    if known then
      -- The instance's own pool field says whether it holds or waits for slots.
      if known.pool then poolLeave(c, task, mi, known.pool) end
    elseif (tn and tn.pl) or poolConf(c, DEFAULT_POOL) then
      poolLeave(c, task, mi)
    end
  end
  if mi ~= UNMAPPED then
    if FINISHED[prev] then rcall('HINCRBY', c.mapKey, task .. ':' .. prev, -1) end
    rcall('HINCRBY', c.mapKey, task .. ':' .. state, 1)
  end
  if not FINISHED[prev] then
    local left = rcall('HINCRBY', c.runKey, 'unfinished', -1)
    if left <= 0 then c.runDone = true end
  end
  -- A copy in a mapped task group makes only the same copy of its group downstream ready.
  if mi ~= UNMAPPED and tn and tn.m and tn.m.g then
    table.insert(c.work, { task, mi })
  else
    table.insert(c.work, task)
  end
end
