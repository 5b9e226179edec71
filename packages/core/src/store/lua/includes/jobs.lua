--[[
  Jobs: a task instance try (or a callback) becomes a BullMQ job stored exactly as BullMQ's
  own addJob stores it (BullMQ's storeAndEnqueueJob include, from the pinned version), with a
  job id derived from (dag, run, task, map index, try) so enqueueing twice is harmless.
]]
--- @include "bullmq:storeAndEnqueueJob"
--- @include "bullmq:getOrSetMaxEvents"
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/pools"

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

-- Adds a BullMQ job as BullMQ's own addJob stores it, unless a job with that id exists.
-- BullMQ's event cap is read, and the queue registered, once per script and queue: a run
-- start may enqueue thousands of tasks on one queue.
local function storeJob(c, queue, jobId, name, data, priority, delay)
  local q = SHARED.bullQueues[queue]
  if not q then
    q = Keys.bullQueue(c.p, queue)
    SHARED.bullQueues[queue] = q
  end
  local jobKey = q.prefix .. jobId
  if rcall('EXISTS', jobKey) == 0 then
    local opts = { attempts = 1, removeOnComplete = true, removeOnFail = true, priority = priority, delay = delay }
    local maxEvents = SHARED.maxEvents[queue]
    if not maxEvents then
      maxEvents = getOrSetMaxEvents(q.meta)
      SHARED.maxEvents[queue] = maxEvents
    end
    storeAndEnqueueJob(q.events, jobKey, jobId, name, data, opts, c.now, nil, nil, nil, maxEvents, q.wait, q.paused,
      q.active, q.meta, q.prioritized, q.pc, q.delayed, q.marker)
  end
  if not SHARED.queued[queue] then
    rcall('SADD', Keys.queues(c.p), queue)
    SHARED.queued[queue] = true
  end
end

-- Queues a job that runs a callback (a reference such as `dag:onFailure`) on a worker. The
-- job id holds `uniq`, so one occurrence is one job however often this is reached.
-- `extra` is JSON object members (`,"state":"failed",…`) appended to the job's data.
local function enqueueCallback(c, queue, ref, uniq, extra)
  local jobId = c.dag .. '|' .. escapeId(c.run) .. '|~callback|' .. escapeId(ref) .. '|' .. uniq
  local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
    ',"taskId":"","mapIndex":-1,"try":0,"callback":' .. cjson.encode(ref) .. extra .. '}'
  storeJob(c, queue, jobId, c.dag .. '.' .. ref, data, 1, 0)
end

-- The BullMQ job of one try of an instance, unless it exists already.
local function addJob(c, task, n, try, mi, jobId, delay)
  local data = '{"dagId":' .. cjson.encode(c.dag) .. ',"runId":' .. cjson.encode(c.run) ..
    ',"taskId":' .. cjson.encode(task) .. ',"mapIndex":' .. mi .. ',"try":' .. try .. '}'
  storeJob(c, n.q, jobId, c.dag .. '.' .. task, data, bullPriority(n.p), delay)
end

-- The next try of an instance: queued (or up_for_retry with a delayed job when `delay` > 0),
-- waiting for its pool's slots, with its job.
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
  if pool then poolWait(c, task, mi, pool, n.ps or 1) end
  addJob(c, task, n, try, mi, jobId, delay)
  emit(c, 'ti', task, state, nil, mi)
end
