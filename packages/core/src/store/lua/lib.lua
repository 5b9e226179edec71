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

-- Lookups kept for the whole script call, shared by every context in it (a batch of
-- finishes, a run start): graph versions never change, and within one atomic call nothing
-- else changes pools or a queue's settings.
-- `starting`: a run start in this call left tasks for continueRuns.lua.
local SHARED = { nodes = {}, meta = {}, pools = {}, maxEvents = {}, queued = {}, starting = false }

local startQueuedRuns
local expand, innerOfGroup, evaluateCopy

-- With `claiming`, the run's state (c.runState) and what a claim returns of it (c.claimRun:
-- logical date, data interval, conf) are read along with its version, in one read.
local function newCtx(prefix, dagId, runId, now, claiming)
  local c = { p = prefix, dag = dagId, run = runId, now = tonumber(now), nodes = {}, work = {} }
  c.runKey = prefix .. ':run:' .. dagId .. ':' .. runId
  c.tisKey = prefix .. ':tis:' .. dagId .. ':' .. runId
  c.tiPrefix = prefix .. ':ti:' .. dagId .. ':' .. runId .. ':'
  c.outKey = prefix .. ':out:' .. dagId .. ':' .. runId
  c.mapKey = prefix .. ':map:' .. dagId .. ':' .. runId
  c.runningKey = prefix .. ':running:' .. dagId
  c.eventsKey = prefix .. ':events'
  c.slaKey = prefix .. ':sla:' .. dagId .. ':' .. runId
  c.bullPrefix = prefix .. ':bull'
  if claiming then
    local f = rcall('HMGET', c.runKey, 'version', 'state', 'logicalDate', 'dataIntervalStart', 'dataIntervalEnd', 'conf')
    c.version, c.runState = f[1], f[2]
    c.claimRun = { f[3], f[4], f[5], f[6] }
  else
    c.version = rcall('HGET', c.runKey, 'version')
  end
  if c.version then
    c.graphKey = prefix .. ':graph:' .. dagId .. ':' .. c.version
    c.nodes = SHARED.nodes[c.graphKey]
    if not c.nodes then
      c.nodes = {}
      SHARED.nodes[c.graphKey] = c.nodes
    end
  end
  return c
end

local function meta(c)
  local m = SHARED.meta[c.graphKey]
  if m == nil then
    m = cjson.decode(rcall('HGET', c.graphKey, '__meta'))
    SHARED.meta[c.graphKey] = m
  end
  return m
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

-- `mi` is the map index as a string; omitted, the unmapped instance ('-1').
local function tiKey(c, task, mi) return c.tiPrefix .. task .. ':' .. (mi or UNMAPPED) end
local function tiState(c, task, mi) return rcall('HGET', c.tisKey, task .. ':' .. (mi or UNMAPPED)) end

-- Appends a try's log lines given as ARGV[first..last] (JSON each; `last` defaults to the
-- end of ARGV), keeping the last `cap`.
-- Lines past the cap are trimmed from the start; the instance counts them per try
-- (`logTrimmed:{try}`), so a reader's line numbers stay absolute and a follower misses none.
local function appendTryLog(c, task, mi, try, first, cap, last)
  last = last or #ARGV
  if last < first then return end
  local logKey = c.p .. ':log:' .. c.dag .. ':' .. c.run .. ':' .. task .. ':' .. mi .. ':' .. try
  local len = 0
  for i = first, last, 1000 do len = rcall('RPUSH', logKey, unpack(ARGV, i, math.min(i + 999, last))) end
  cap = tonumber(cap)
  if len > cap then
    rcall('LTRIM', logKey, -cap, -1)
    rcall('HINCRBY', c.tiPrefix .. task .. ':' .. mi, 'logTrimmed:' .. try, len - cap)
  end
end

-- `map` is left out for unmapped instances (readers take its absence as -1).
local function emit(c, kind, task, state, detail, mi)
  if mi and mi ~= UNMAPPED then
    rcall('XADD', c.eventsKey, 'MAXLEN', '~', 10000, '*', 'type', kind, 'dag', c.dag, 'run', c.run,
      'task', task or '', 'state', state, 'at', c.now, 'detail', detail or '', 'map', mi)
  else
    rcall('XADD', c.eventsKey, 'MAXLEN', '~', 10000, '*', 'type', kind, 'dag', c.dag, 'run', c.run,
      'task', task or '', 'state', state, 'at', c.now, 'detail', detail or '')
  end
end

-- A mapped task's instances once expanded: how many, and how many ended in each final state.
-- Nil while the task is not expanded (its instance -1 stands for it until then).
local function mapCounts(c, task)
  local v = rcall('HMGET', c.mapKey, task .. ':n', task .. ':success', task .. ':skipped', task .. ':failed',
    task .. ':upstream_failed')
  if not v[1] then return nil end
  return { n = tonumber(v[1]), success = tonumber(v[2]) or 0, skipped = tonumber(v[3]) or 0,
    failed = tonumber(v[4]) or 0, upstream_failed = tonumber(v[5]) or 0 }
end

local function escapeId(s)
  return (string.gsub(string.gsub(s, '%%', '%%25'), ':', '%%3A'))
end

local function jobIdFor(c, task, try, mi)
  return c.dag .. '|' .. escapeId(c.run) .. '|' .. task .. '|' .. mi .. '|' .. try
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
-- Whether `try` is the running try of an instance: the one a worker may still finish,
-- reschedule or hand back. Anything else is a stale worker's.
local function isRunningTry(c, task, mi, try)
  return tiState(c, task, mi) == 'running' and tonumber(rcall('HGET', tiKey(c, task, mi), 'try')) == tonumber(try)
end

-- Adds a BullMQ job as BullMQ's own addJob stores it, unless a job with that id exists.
-- BullMQ's event cap is read, and the queue registered, once per script and queue: a run
-- start may enqueue thousands of tasks on one queue.
local function storeJob(c, queue, jobId, name, data, priority, delay)
  local bq = c.bullPrefix .. ':' .. queue .. ':'
  local jobKey = bq .. jobId
  if rcall('EXISTS', jobKey) == 0 then
    local opts = { attempts = 1, removeOnComplete = true, removeOnFail = true, priority = priority, delay = delay }
    local maxEvents = SHARED.maxEvents[queue]
    if not maxEvents then
      maxEvents = getOrSetMaxEvents(bq .. 'meta')
      SHARED.maxEvents[queue] = maxEvents
    end
    storeAndEnqueueJob(bq .. 'events', jobKey, jobId, name, data, opts, c.now,
      nil, nil, nil, maxEvents, bq .. 'wait', bq .. 'paused', bq .. 'active', bq .. 'meta',
      bq .. 'prioritized', bq .. 'pc', bq .. 'delayed', bq .. 'marker')
  end
  if not SHARED.queued[queue] then
    rcall('SADD', c.p .. ':queues', queue)
    SHARED.queued[queue] = true
  end
end

local function enqueueCallback(c, queue, ref, uniq, extra)
  local jobId = c.dag .. '|' .. escapeId(c.run) .. '|~callback|' .. escapeId(ref) .. '|' .. uniq
  local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
    ',"taskId":"","mapIndex":-1,"try":0,"callback":' .. cjson.encode(ref) .. extra .. '}'
  storeJob(c, queue, jobId, c.dag .. '.' .. ref, data, 1, 0)
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
    if not s then
      local m = mapCounts(c, leaf)
      if m and m.failed + m.upstream_failed > 0 then s = 'failed' end
    end
    if s == 'failed' or s == 'upstream_failed' then state = 'failed' end
  end
  rcall('HSET', c.runKey, 'state', state, 'endDate', c.now)
  rcall('SREM', c.p .. ':active-runs:' .. c.dag, c.run)
  emit(c, 'run', nil, state)
  runCallback(c, state, nil)
end

-- Pools, as in Airflow: `pools` maps a name to JSON {slots, description}. Per pool, the
-- instances holding slots (`pool-used:{name}`) and waiting for them (`pool-queued:{name}`),
-- as hashes occupant → slots. An instance records its pool in its own hash when queued.
-- Tasks without a pool are in default_pool, which is unlimited (untracked) unless configured.
local DEFAULT_POOL = 'default_pool'

local function poolConf(c, name)
  local v = SHARED.pools[name]
  if v == nil then
    local raw = rcall('HGET', c.p .. ':pools', name)
    if raw then v = cjson.decode(raw) else v = false end
    SHARED.pools[name] = v
  end
  return v
end

local function occupant(c, task, mi) return c.dag .. '|' .. c.run .. '|' .. task .. ':' .. mi end

-- Gives back the slots an instance holds or waits for; safe to call more than once.
-- `pool`: the instance's pool field when the caller has read it already.
local function poolLeave(c, task, mi, pool)
  if pool == nil then pool = rcall('HGET', tiKey(c, task, mi), 'pool') end
  if pool then
    local o = occupant(c, task, mi)
    rcall('HDEL', c.p .. ':pool-used:' .. pool, o)
    rcall('HDEL', c.p .. ':pool-queued:' .. pool, o)
  end
end

-- An instance that stops running without finishing (handed back, rescheduled) gives back
-- its pool slots and waits for them again among the pool's queued.
local function poolRequeue(c, task, mi)
  poolLeave(c, task, mi)
  local pool, need = unpack(rcall('HMGET', tiKey(c, task, mi), 'pool', 'poolSlots'))
  if pool then rcall('HSET', c.p .. ':pool-queued:' .. pool, occupant(c, task, mi), need) end
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

-- The BullMQ job of one try of an instance, unless it exists already.
local function addJob(c, task, n, try, mi, jobId, delay)
  local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
    ',"taskId":' .. cjson.encode(task) .. ',"mapIndex":' .. mi .. ',"try":' .. try .. '}'
  storeJob(c, n.q, jobId, c.dag .. '.' .. task, data, bullPriority(n.p), delay)
end

local function enqueue(c, task, n, delay, mi)
  mi = mi or UNMAPPED
  local key = tiKey(c, task, mi)
  local try = rcall('HINCRBY', key, 'try', 1)
  -- A first try has no maxTries of its own yet, or the one clear wrote: the same value.
  local maxTries
  if try > 1 then maxTries = tonumber(rcall('HGET', key, 'maxTries')) end
  local state = 'queued'
  if delay > 0 then state = 'up_for_retry' end
  rcall('HSET', c.tisKey, task .. ':' .. mi, state)
  local jobId = jobIdFor(c, task, try, mi)
  local pool = n.pl
  if not pool and poolConf(c, DEFAULT_POOL) then pool = DEFAULT_POOL end
  local f = { 'state', state, 'queuedAt', c.now, 'queue', n.q, 'jobId', jobId }
  if maxTries == nil then f[#f + 1] = 'maxTries'; f[#f + 1] = try + (n.n or 0) end
  if delay > 0 then f[#f + 1] = 'nextTryAt'; f[#f + 1] = c.now + delay end
  if pool then f[#f + 1] = 'pool'; f[#f + 1] = pool; f[#f + 1] = 'poolSlots'; f[#f + 1] = n.ps or 1 end
  rcall('HSET', key, unpack(f))
  if pool then
    local o = occupant(c, task, mi)
    rcall('HDEL', c.p .. ':pool-used:' .. pool, o)
    rcall('HSET', c.p .. ':pool-queued:' .. pool, o, n.ps or 1)
  end
  addJob(c, task, n, try, mi, jobId, delay)
  emit(c, 'ti', task, state, nil, mi)
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
-- Upstream of a copy in a mapped task group that is in the same group: then only the same
-- copy of it counts.
local function sameGroup(c, n, u)
  if not (n.m and n.m.g) then return false end
  local un = node(c, u)
  return un.m ~= nil and un.m.g == n.m.g
end

-- Every instance of a mapped upstream counts, as in Airflow. With `mi`, decides copy `mi` of
-- a task in a mapped group: its upstreams in the group count by their own copy `mi`.
local function decide(c, n, mi)
  local total = #n.u
  local success, skipped, failed, upFailed = 0, 0, 0, 0
  for _, u in ipairs(n.u) do
    local s = tiState(c, u)
    local m = (not s) and mapCounts(c, u)
    if m and mi and sameGroup(c, n, u) then
      s = tiState(c, u, mi)
      m = nil
    end
    if m then
      total = total + m.n - 1
      success = success + m.success
      skipped = skipped + m.skipped
      failed = failed + m.failed
      upFailed = upFailed + m.upstream_failed
    elseif s == 'success' then success = success + 1
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

-- A task of a mapped group with an upstream in the same group: its copies wait for copies.
innerOfGroup = function(c, n)
  if not (n.m and n.m.g) then return false end
  for _, u in ipairs(n.u) do
    if sameGroup(c, n, u) then return true end
  end
  return false
end

-- Decides one copy of a task in a mapped group, as evaluate does a whole task.
evaluateCopy = function(c, task, mi)
  if tiState(c, task, mi) ~= 'none' then return end
  local n = node(c, task)
  local d = decide(c, n, mi)
  if d == nil then return end
  if d == 'run' then
    enqueue(c, task, n, 0, mi)
  else
    finalize(c, task, d, nil, nil, mi)
  end
end

-- Every copy of an expanded task of a mapped group (an upstream outside the group changed).
local function evaluateCopies(c, task)
  local m = mapCounts(c, task)
  if not m then return end
  for i = 0, m.n - 1 do evaluateCopy(c, task, tostring(i)) end
end

-- How many instances a mapped task expands to, or nil and the reason it cannot: the
-- product of its mapped arguments' lengths (literal lists, an upstream's list output, or a
-- mapped upstream's instances).
local function mapLength(c, task, n)
  local total = 1
  for _, s in ipairs(n.m.s) do
    local len = s.n
    if not len then
      local un = node(c, s.t)
      if un.m and not tiState(c, s.t) then
        len = mapCounts(c, s.t).n
      elseif un.m then
        len = 0
      else
        local raw = rcall('HGET', c.outKey, s.t .. ':' .. UNMAPPED)
        if not raw then return nil, 'upstream "' .. s.t .. '" left no output to expand "' .. s.a .. '" over' end
        local ok, v = pcall(cjson.decode, raw)
        if not ok or type(v) ~= 'table' or not string.find(raw, '^%s*%[') then
          return nil, 'the output of "' .. s.t .. '" is not a list, so "' .. s.a .. '" cannot expand over it'
        end
        len = #v
      end
    end
    total = total * len
  end
  return total
end

-- Replaces a mapped task's instance -1 with one instance per element and enqueues them all.
-- An empty list skips the task; more instances than its cap fail it.
expand = function(c, task, n)
  local total, why = mapLength(c, task, n)
  if not total then
    finalize(c, task, 'failed', { 'reason', why }, why)
    return
  end
  if total == 0 then
    finalize(c, task, 'skipped', { 'reason', 'expanded over an empty list' }, 'expanded over an empty list')
    return
  end
  if total > n.m.x then
    why = 'expands to ' .. total .. ' instances, over its limit of ' .. n.m.x .. ' (maxMapLength)'
    finalize(c, task, 'failed', { 'reason', why }, why)
    return
  end
  rcall('HDEL', c.tisKey, task .. ':' .. UNMAPPED)
  rcall('HSET', tiKey(c, task), 'state', 'mapped', 'mapped', total, 'startDate', c.now)
  rcall('HSET', c.mapKey, task .. ':n', total)
  rcall('HINCRBY', c.runKey, 'unfinished', total - 1)
  emit(c, 'ti', task, 'mapped', tostring(total))
  if not innerOfGroup(c, n) then
    for i = 0, total - 1 do enqueue(c, task, n, 0, tostring(i)) end
  else
    -- Inside a mapped group, copy i waits for copy i of its upstreams in the group.
    local batch = {}
    for i = 0, total - 1 do
      batch[#batch + 1] = task .. ':' .. i
      batch[#batch + 1] = 'none'
      if #batch >= 1000 then
        rcall('HSET', c.tisKey, unpack(batch))
        batch = {}
      end
    end
    if #batch > 0 then rcall('HSET', c.tisKey, unpack(batch)) end
    for i = 0, total - 1 do evaluateCopy(c, task, tostring(i)) end
  end
  -- A mapped group expands as a whole: its tasks that wait on others in the group expand now.
  if n.m.g then
    for _, other in ipairs(graphList(c, '__mg:' .. n.m.g)) do
      if other ~= task and tiState(c, other) == 'none' and innerOfGroup(c, node(c, other)) then
        expand(c, other, node(c, other))
      end
    end
  end
end

local function evaluate(c, task)
  local st = tiState(c, task)
  if st ~= 'none' and st ~= 'scheduled' then return end
  local n = node(c, task)
  local d = decide(c, n)
  if d == nil then return end
  if d == 'run' then
    if n.dop and not pastAllows(c, task) then return end
    if n.m then
      expand(c, task, n)
    elseif n.k == 'empty' and not n.cb then
      -- Like Airflow's EmptyOperator: never sent to a worker, unless it has callbacks to run.
      finalize(c, task, 'success', { 'startDate', c.now })
    else
      enqueue(c, task, n, 0)
    end
  else
    finalize(c, task, d, nil)
  end
end

-- Evaluates the direct downstream of every task finalized so far, transitively. A copy of a
-- mapped group's task makes its group downstream's same copy ready; anything else, whole
-- tasks (and every copy of an expanded group task that it is an outside upstream of).
local function drain(c)
  local i = 1
  while i <= #c.work do
    local item = c.work[i]
    if type(item) == 'table' then
      local n = node(c, item[1])
      for _, d in ipairs(n.d) do
        local dn = node(c, d)
        if dn.m and dn.m.g == n.m.g then evaluateCopy(c, d, item[2]) else evaluate(c, d) end
      end
    else
      for _, d in ipairs(node(c, item).d) do
        evaluate(c, d)
        local dn = node(c, d)
        if dn.m and dn.m.g and not tiState(c, d) then evaluateCopies(c, d) end
      end
    end
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

-- Tasks a run start evaluates in one script call. The rest follow in further calls
-- (continueRuns.lua), so starting a 10,000-task run does not hold Redis for a quarter of a
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

-- A run start under way is over: nothing is left for continueRuns.lua.
local function endStart(c)
  rcall('HDEL', c.runKey, 'evalNext')
  rcall('ZREM', c.p .. ':starting-runs', c.dag .. '|' .. c.run)
end

-- One step of a run start: START_CHUNK tasks from position `from` (1 for the first step).
-- Until the last step, the run's `evalNext` says where the next goes on, and the run waits
-- in `starting-runs` (by the time its start began). Returns true when every task was evaluated.
local function startStep(c, from)
  local nextAt = evaluateTopo(c, from, START_CHUNK)
  if nextAt then
    rcall('HSET', c.runKey, 'evalNext', nextAt)
    if from == 1 then rcall('ZADD', c.p .. ':starting-runs', c.now, c.dag .. '|' .. c.run) end
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
  rcall('SADD', c.p .. ':active-runs:' .. c.dag, c.run)
  rcall('ZREM', c.p .. ':queued-runs:' .. c.dag, c.run)
  emit(c, 'run', nil, 'running')
  startStep(c, 1)
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
