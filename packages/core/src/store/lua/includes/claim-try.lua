--[[
  A worker claims one try of a task instance: queued/up_for_retry/up_for_reschedule → running
  (a reschedule-mode sensor's next poke claims the same try again). A stalled job
  redelivered after its worker died finds the instance running with the same try: that is
  a takeover, and the caller learns the previous holder so it can end what is left of it.
  Returns { status, previousWorker, previousHost, previousPgid, ... },
  status one of ok | takeover | stale | busy (maxActiveTasks, maxActiveTisPerDag or
  maxActiveTisPerDagrun) | pool (no free slot); with ok
  and takeover, what the worker needs of the run follows, so it makes no second round trip
  for it. With `logged`, the try's log gets its first line, which says which
  worker took the try.
  With `withOutputs`, an unmapped instance whose upstreams are unmapped (at most
  MAX_OUTPUT_UPSTREAMS of them) also gets their outputs (upstream, JSON or false, ...) as the
  fifth element, false otherwise: the worker then needs no read of its own before it runs.
  Reply: { status, previousWorker, previousHost, previousPgid, outputs or false, version,
  logicalDate, dataIntervalStart, dataIntervalEnd, conf } (the last three false when unset).

  A poison pill: `deaths` is how often the try's job was found stalled (BullMQ's stalled
  counter, `stc`: its worker stopped renewing the lock, because it died or was cut off from
  Redis for longer than the lock; a worker that gives a job back alive does not count).
  A takeover with `deaths` at `maxDeaths` (ALOFT_MAX_TAKEOVERS; 0: no cap) does not run
  the try again: it fails it, as Airflow fails a zombie's try (retries apply), with the
  reason on the instance and in the try's log, and replies { 'poison', recorded state,
  reason, '', false, then the run as with ok }. Every takeover records `workerDeaths` on the instance.
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/logs"
--- @include "includes/pools"
--- @include "includes/finalize"
--- @include "includes/evaluate"
--- @include "includes/finish-try"
-- Fields of a claimed try's instance that belong to an earlier try or hold: cleared on a claim.
local CLAIM_CLEARS = { 'pgid', 'endDate', 'exitCode', 'reason', 'nextTryAt', 'nextPokeAt', 'workerDeaths' }

local MAX_OUTPUT_UPSTREAMS = 32

-- The outputs an unmapped instance's unmapped upstreams left, or false.
local function upstreamOutputs(c, task, mi)
  if mi ~= UNMAPPED then return false end
  local n = node(c, task)
  if not n or n.m or #n.u == 0 or #n.u > MAX_OUTPUT_UPSTREAMS then return false end
  local fields = {}
  for i, u in ipairs(n.u) do
    local un = node(c, u)
    if not un or un.m then return false end
    fields[i] = u .. ':' .. UNMAPPED
  end
  local vals = rcall('HMGET', c.outKey, unpack(fields))
  local out = {}
  for i, u in ipairs(n.u) do
    out[#out + 1] = u
    out[#out + 1] = vals[i] or false
  end
  return out
end

-- maxActiveTisPerDag / maxActiveTisPerDagrun: the DAG's running instances (`run|task:mi`, at
-- most maxActiveTasks of them) that are this task's, in any run and in this one.
local function atTaskLimit(c, task, tn)
  local inDag, inRun = 0, 0
  for _, m in ipairs(rcall('ZRANGE', c.runningKey, 0, -1)) do
    local run, t = string.match(m, '^(.*)|(.*):%-?%d+$')
    if t == task then
      inDag = inDag + 1
      if run == c.run then inRun = inRun + 1 end
    end
  end
  return (tn.mt and inDag >= tn.mt) or (tn.mr and inRun >= tn.mr) or false
end

-- `c` must come from newCtx(..., true), which reads what the claim returns of the run.
local function claimTry(c, task, mi, try, workerId, host, logged, withOutputs, deaths, maxDeaths)
  if not c.version or c.runState ~= 'running' then return { 'stale' } end
  local key = tiKey(c, task, mi)
  -- state, try, pool, poolSlots, worker, hostname, then CLAIM_CLEARS
  local f = rcall('HMGET', key, 'state', 'try', 'pool', 'poolSlots', 'worker', 'hostname', unpack(CLAIM_CLEARS))
  local state = f[1]
  local function claimed(status, prev)
    if logged then
      tryLogLine(c, task, mi, try, 'try ' .. try .. ' of ' .. c.dag .. '.' .. task .. ', run ' .. c.run .. ', on ' .. workerId)
    end
    local r = c.claimRun
    return { status, prev[1] or '', prev[2] or '', prev[3] or '', withOutputs and upstreamOutputs(c, task, mi) or false,
      c.version, r[1], r[2] or false, r[3] or false, r[4] or false }
  end
  if tonumber(f[2]) ~= try then return { 'stale' } end
  if state == 'running' then
    deaths = tonumber(deaths) or 0
    if deaths > 0 then rcall('HSET', key, 'workerDeaths', deaths) end
    if (tonumber(maxDeaths) or 0) > 0 and deaths >= tonumber(maxDeaths) then
      local why = 'the worker running this try died ' .. deaths .. ' times (killed, crashed, or cut off from Redis for longer than its lock); it is not started again'
      tryLogLine(c, task, mi, try, why)
      local recorded = finishTry(c, task, mi, try, { outcome = 'failed', output = '', reason = why, exitCode = '', follow = '',
        skipDescendants = '', cap = '0', noRetry = '' }, 1, 0)
      -- Aligned with claimed()'s reply: the run follows, for the task's failure or retry callback.
      local r = c.claimRun
      return { 'poison', recorded, why, '', false, c.version, r[1], r[2] or false, r[3] or false, r[4] or false }
    end
    rcall('HSET', key, 'worker', workerId, 'hostname', host, 'takenOverAt', c.now)
    if f[7] then rcall('HDEL', key, 'pgid') end
    emit(c, 'ti', task, 'running', 'taken over by ' .. workerId, mi)
    return claimed('takeover', { f[5], f[6], f[7] })
  end
  if state ~= 'queued' and state ~= 'up_for_retry' and state ~= 'up_for_reschedule' then return { 'stale' } end
  if rcall('ZCARD', c.runningKey) >= meta(c).mat then return { 'busy' } end
  local tn = node(c, task)
  if tn and (tn.mt or tn.mr) and atTaskLimit(c, task, tn) then return { 'busy' } end
  local pool, need = f[3], f[4]
  local conf = pool and poolConf(c, pool)
  if pool and (conf or pool ~= DEFAULT_POOL) then
    need = tonumber(need) or 1
    local why
    if not conf then
      why = 'pool "' .. pool .. '" does not exist; create it with `aloft pools set ' .. pool .. ' <slots>`'
    elseif conf.slots > 0 and need > conf.slots then
      why = 'needs ' .. need .. ' slots of pool "' .. pool .. '", which has ' .. conf.slots
    end
    if why then
      finalize(c, task, 'failed', { 'reason', why }, why, mi)
      drain(c)
      return { 'stale' }
    end
    if not poolTake(c, task, mi, pool, conf.slots, need) then return { 'pool' } end
  end
  rcall('HSET', c.tisKey, task .. ':' .. mi, 'running')
  -- A rescheduled sensor keeps the start of its first poke, as in Airflow.
  if state ~= 'up_for_reschedule' then
    rcall('HSET', key, 'state', 'running', 'worker', workerId, 'hostname', host, 'startDate', c.now)
  else
    rcall('HSET', key, 'state', 'running', 'worker', workerId, 'hostname', host)
  end
  local clear = {}
  for i, name in ipairs(CLAIM_CLEARS) do
    if f[6 + i] then clear[#clear + 1] = name end
  end
  if #clear > 0 then rcall('HDEL', key, unpack(clear)) end
  rcall('ZADD', c.runningKey, c.now, c.run .. '|' .. task .. ':' .. mi)
  emit(c, 'ti', task, 'running', nil, mi)
  return claimed('ok', {})
end
