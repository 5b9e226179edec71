--[[
  Aloft's shared Lua: task-instance transitions, trigger rules (Airflow semantics) and
  enqueueing of ready task instances as BullMQ jobs, all inside one script call so a
  finish and the enqueue of what it made ready are one atomic step.
  Expects `rcall` (set by the loader) and BullMQ's storeAndEnqueueJob include.
]]
--- @include "bullmq:storeAndEnqueueJob"
--- @include "bullmq:getOrSetMaxEvents"

local FINISHED = { success = true, failed = true, skipped = true, upstream_failed = true }
local UNMAPPED = '-1'

local startQueuedRuns

local function newCtx(prefix, dagId, runId, now)
  local c = { p = prefix, dag = dagId, run = runId, now = tonumber(now), nodes = {}, work = {} }
  c.runKey = prefix .. ':run:' .. dagId .. ':' .. runId
  c.tisKey = prefix .. ':tis:' .. dagId .. ':' .. runId
  c.tiPrefix = prefix .. ':ti:' .. dagId .. ':' .. runId .. ':'
  c.outKey = prefix .. ':out:' .. dagId .. ':' .. runId
  c.runningKey = prefix .. ':running:' .. dagId
  c.eventsKey = prefix .. ':events'
  c.slaKey = prefix .. ':sla:' .. dagId .. ':' .. runId
  c.bullPrefix = prefix .. ':bull'
  c.version = rcall('HGET', c.runKey, 'version')
  if c.version then c.graphKey = prefix .. ':graph:' .. dagId .. ':' .. c.version end
  return c
end

local function meta(c)
  if c.meta == nil then c.meta = cjson.decode(rcall('HGET', c.graphKey, '__meta')) end
  return c.meta
end

local function graphList(c, field)
  return cjson.decode(rcall('HGET', c.graphKey, field))
end

local function node(c, task)
  local n = c.nodes[task]
  if n == nil then
    local raw = rcall('HGET', c.graphKey, task)
    if not raw then return nil end
    n = cjson.decode(raw)
    c.nodes[task] = n
  end
  return n
end

local function tiKey(c, task) return c.tiPrefix .. task .. ':' .. UNMAPPED end
local function tiState(c, task) return rcall('HGET', c.tisKey, task .. ':' .. UNMAPPED) end

local function emit(c, kind, task, state, detail)
  rcall('XADD', c.eventsKey, 'MAXLEN', '~', 10000, '*', 'type', kind, 'dag', c.dag, 'run', c.run,
    'task', task or '', 'state', state, 'at', c.now, 'detail', detail or '')
end

local function escapeId(s)
  return (string.gsub(string.gsub(s, '%%', '%%25'), ':', '%%3A'))
end

local function jobIdFor(c, task, try)
  return c.dag .. '|' .. escapeId(c.run) .. '|' .. task .. '|' .. UNMAPPED .. '|' .. try
end

-- Airflow's priority_weight runs higher first; BullMQ runs lower first (1 is highest).
local function bullPriority(p)
  local v = 1000001 - (tonumber(p) or 1)
  if v < 1 then v = 1 end
  return v
end

-- Queues a job that runs a callback (a reference such as `dag:onFailure`) on a worker. The
-- job id holds `uniq`, so one occurrence is one job however often this is reached.
-- `extra` is JSON object members (`,"state":"failed",…`) appended to the job's data.
local function enqueueCallback(c, queue, ref, uniq, extra)
  local bq = c.bullPrefix .. ':' .. queue .. ':'
  local jobId = c.dag .. '|' .. escapeId(c.run) .. '|~callback|' .. escapeId(ref) .. '|' .. uniq
  local jobKey = bq .. jobId
  if rcall('EXISTS', jobKey) == 1 then return end
  local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
    ',"taskId":"","mapIndex":-1,"try":0,"callback":' .. cjson.encode(ref) .. extra .. '}'
  local opts = { attempts = 1, removeOnComplete = true, removeOnFail = true, priority = 1, delay = 0 }
  local maxEvents = getOrSetMaxEvents(bq .. 'meta')
  storeAndEnqueueJob(bq .. 'events', jobKey, jobId, c.dag .. '.' .. ref, data, opts, c.now,
    nil, nil, nil, maxEvents, bq .. 'wait', bq .. 'paused', bq .. 'active', bq .. 'meta',
    bq .. 'prioritized', bq .. 'pc', bq .. 'delayed', bq .. 'marker')
  rcall('SADD', c.p .. ':queues', queue)
end

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
    if s == 'failed' or s == 'upstream_failed' then state = 'failed' end
  end
  rcall('HSET', c.runKey, 'state', state, 'endDate', c.now)
  rcall('SREM', c.p .. ':active-runs:' .. c.dag, c.run)
  emit(c, 'run', nil, state)
  runCallback(c, state, nil)
end

-- Records a final state of a task instance and queues its downstream for evaluation.
local function finalize(c, task, state, fields, detail)
  local prev = tiState(c, task)
  rcall('HSET', c.tisKey, task .. ':' .. UNMAPPED, state)
  local key = tiKey(c, task)
  rcall('HSET', key, 'state', state, 'endDate', c.now)
  if fields then
    for i = 1, #fields, 2 do rcall('HSET', key, fields[i], fields[i + 1]) end
  end
  emit(c, 'ti', task, state, detail)
  if not FINISHED[prev] then
    local left = rcall('HINCRBY', c.runKey, 'unfinished', -1)
    if left <= 0 then c.runDone = true end
  end
  table.insert(c.work, task)
end

local function enqueue(c, task, n, delay)
  local key = tiKey(c, task)
  local try = rcall('HINCRBY', key, 'try', 1)
  local maxTries = tonumber(rcall('HGET', key, 'maxTries'))
  if maxTries == nil then
    maxTries = try + (n.n or 0)
    rcall('HSET', key, 'maxTries', maxTries)
  end
  local state = 'queued'
  if delay > 0 then state = 'up_for_retry' end
  rcall('HSET', c.tisKey, task .. ':' .. UNMAPPED, state)
  local jobId = jobIdFor(c, task, try)
  rcall('HSET', key, 'state', state, 'queuedAt', c.now, 'queue', n.q, 'jobId', jobId)
  if delay > 0 then rcall('HSET', key, 'nextTryAt', c.now + delay) end
  local bq = c.bullPrefix .. ':' .. n.q .. ':'
  local jobKey = bq .. jobId
  if rcall('EXISTS', jobKey) == 0 then
    local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
      ',"taskId":' .. cjson.encode(task) .. ',"mapIndex":-1,"try":' .. try .. '}'
    local opts = { attempts = 1, removeOnComplete = true, removeOnFail = true,
      priority = bullPriority(n.p), delay = delay }
    local maxEvents = getOrSetMaxEvents(bq .. 'meta')
    storeAndEnqueueJob(bq .. 'events', jobKey, jobId, c.dag .. '.' .. task, data, opts, c.now,
      nil, nil, nil, maxEvents, bq .. 'wait', bq .. 'paused', bq .. 'active', bq .. 'meta',
      bq .. 'prioritized', bq .. 'pc', bq .. 'delayed', bq .. 'marker')
  end
  rcall('SADD', c.p .. ':queues', n.q)
  emit(c, 'ti', task, state)
end

-- dependsOnPast: the same task in the previous run (by logical date) must have succeeded or
-- been skipped. The sweep re-evaluates waiting instances when that changes.
local function pastAllows(c, task)
  local logical = rcall('HGET', c.runKey, 'logicalDate')
  local prev = rcall('ZREVRANGEBYSCORE', c.p .. ':runs:' .. c.dag, '(' .. logical, '-inf', 'LIMIT', 0, 1)
  if #prev == 0 then return true end
  local s = rcall('HGET', c.p .. ':tis:' .. c.dag .. ':' .. prev[1], task .. ':' .. UNMAPPED)
  return s == nil or s == false or s == 'success' or s == 'skipped'
end

-- Decides what a task in state none should do given its upstream states:
-- 'run', a final state ('skipped' / 'upstream_failed'), or nil to keep waiting.
local function decide(c, n)
  local total = #n.u
  local success, skipped, failed, upFailed = 0, 0, 0, 0
  for _, u in ipairs(n.u) do
    local s = tiState(c, u)
    if s == 'success' then success = success + 1
    elseif s == 'skipped' then skipped = skipped + 1
    elseif s == 'failed' then failed = failed + 1
    elseif s == 'upstream_failed' then upFailed = upFailed + 1 end
  end
  local done = success + skipped + failed + upFailed
  local allDone = done == total
  local r = n.r
  if r == 'always' then return 'run' end
  if r == 'all_success' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if skipped > 0 then return 'skipped' end
    if success == total then return 'run' end
  elseif r == 'all_failed' then
    if success + skipped > 0 then return 'skipped' end
    if allDone then return 'run' end
  elseif r == 'all_done' then
    if allDone then return 'run' end
  elseif r == 'one_success' then
    if success > 0 then return 'run' end
    if allDone then
      if skipped == total then return 'skipped' end
      return 'upstream_failed'
    end
  elseif r == 'one_failed' then
    if failed + upFailed > 0 then return 'run' end
    if allDone then return 'skipped' end
  elseif r == 'one_done' then
    if success + failed > 0 then return 'run' end
    if allDone then return 'skipped' end
  elseif r == 'none_failed' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if allDone then return 'run' end
  elseif r == 'none_failed_min_one_success' then
    if failed + upFailed > 0 then return 'upstream_failed' end
    if allDone then
      if skipped == total then return 'skipped' end
      return 'run'
    end
  elseif r == 'none_skipped' then
    if skipped > 0 then return 'skipped' end
    if allDone then return 'run' end
  end
  return nil
end

local function evaluate(c, task)
  local st = tiState(c, task)
  if st ~= 'none' and st ~= 'scheduled' then return end
  local n = node(c, task)
  local d = decide(c, n)
  if d == nil then return end
  if d == 'run' then
    if n.dop and not pastAllows(c, task) then return end
    if n.k == 'empty' and not n.cb then
      -- Like Airflow's EmptyOperator: never sent to a worker, unless it has callbacks to run.
      finalize(c, task, 'success', { 'startDate', c.now })
    else
      enqueue(c, task, n, 0)
    end
  else
    finalize(c, task, d, nil)
  end
end

-- Evaluates the direct downstream of every task finalized so far, transitively.
local function drain(c)
  local i = 1
  while i <= #c.work do
    local n = node(c, c.work[i])
    for _, d in ipairs(n.d) do evaluate(c, d) end
    i = i + 1
  end
  c.work = {}
  if c.runDone then
    c.runDone = false
    if tonumber(rcall('HGET', c.runKey, 'unfinished')) <= 0 and rcall('HGET', c.runKey, 'state') == 'running' then
      finishRun(c)
      startQueuedRuns(c.p, c.dag, c.now, meta(c).mar)
    end
  end
end

-- Evaluates every task of the run in topological order (run start, sweep, clear).
local function evaluateAll(c)
  for _, task in ipairs(graphList(c, '__topo')) do
    evaluate(c, task)
    if #c.work > 0 then drain(c) end
  end
  drain(c)
end

local function startRun(c)
  rcall('HSET', c.runKey, 'state', 'running', 'startDate', c.now)
  rcall('SADD', c.p .. ':active-runs:' .. c.dag, c.run)
  rcall('ZREM', c.p .. ':queued-runs:' .. c.dag, c.run)
  emit(c, 'run', nil, 'running')
  evaluateAll(c)
end

-- Starts queued runs of a DAG, oldest logical date first, while fewer than maxActiveRuns run.
startQueuedRuns = function(prefix, dagId, now, maxActiveRuns)
  local started = 0
  local paused = rcall('HGET', prefix .. ':dag:' .. dagId, 'paused')
  if paused == '1' then return 0 end
  while true do
    local active = rcall('SCARD', prefix .. ':active-runs:' .. dagId)
    if active >= maxActiveRuns then break end
    local next = rcall('ZRANGE', prefix .. ':queued-runs:' .. dagId, 0, 0)
    if #next == 0 then break end
    local c = newCtx(prefix, dagId, next[1], now)
    if rcall('HGET', c.runKey, 'state') == 'queued' then
      startRun(c)
      started = started + 1
    else
      rcall('ZREM', prefix .. ':queued-runs:' .. dagId, next[1])
    end
  end
  return started
end
