--[[
  Run context: what every transition of one run shares (`c`: prefix, ids, the run's keys,
  given as KEYS or built from the prefix, its graph version and cached graph nodes) and the
  reads of task instance state.
  Expects `rcall` (set by the loader).
]]
--- @include "includes/keys"

local FINISHED = { success = true, failed = true, skipped = true, upstream_failed = true }
local UNMAPPED = '-1'

-- Lookups kept for the whole script call, shared by every context in it (a batch of
-- finishes, a run start): graph versions never change, and within one atomic call nothing
-- else changes pools or a queue's settings.
-- `starting`: a run start in this call left tasks for continueRuns.
local SHARED = { nodes = {}, meta = {}, pools = {}, maxEvents = {}, queued = {}, bullQueues = {}, starting = false }

-- The keys of a DAG's runs, as Keys.dagScript lists them (an entry script's KEYS about a DAG):
-- `d` has the prefix, the DAG id and those keys, which startQueuedRuns takes (as it takes a run's `c`).
local function dagCtx(prefix, dagId, keys)
  return { p = prefix, dag = dagId, dagKey = keys[1], runsKey = keys[2], activeRunsKey = keys[3], queuedRunsKey = keys[4] }
end

-- `keys`: the run's keys as Keys.runScript lists them (the entry script's KEYS, when the
-- script was called about this run), or nil to build them from the prefix.
-- With `claiming`, the run's state (c.runState) and what a claim returns of it (c.claimRun:
-- logical date, data interval, conf) are read along with its version, in one read.
local function newCtx(prefix, dagId, runId, now, claiming, keys)
  local k = keys or Keys.runScript(prefix, dagId, runId)
  local c = { p = prefix, dag = dagId, run = runId, now = tonumber(now), nodes = {}, work = {},
    runKey = k[1], tisKey = k[2], outKey = k[3], mapKey = k[4], runningKey = k[5], slaKey = k[6], eventsKey = k[7],
    dagKey = k[8], runsKey = k[9], activeRunsKey = k[10], queuedRunsKey = k[11] }
  if claiming then
    local f = rcall('HMGET', c.runKey, 'version', 'state', 'logicalDate', 'dataIntervalStart', 'dataIntervalEnd', 'conf')
    c.version, c.runState = f[1], f[2]
    c.claimRun = { f[3], f[4], f[5], f[6] }
  else
    c.version = rcall('HGET', c.runKey, 'version')
  end
  if c.version then
    c.graphKey = Keys.graph(prefix, dagId, c.version)
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

-- The instance try the entry script was called about, whose `ti:` hash and log came in its
-- KEYS: tiKey and tryLogKey give those rather than building them.
local function ownTry(c, task, mi, try, tiK, logK)
  c.ownTask, c.ownMi, c.ownTry, c.ownTi, c.ownLog = task, mi, tonumber(try), tiK, logK
end

-- `mi` is the map index as a string; omitted, the unmapped instance ('-1').
local function tiKey(c, task, mi)
  mi = mi or UNMAPPED
  if task == c.ownTask and mi == c.ownMi then return c.ownTi end
  return Keys.ti(c.p, c.dag, c.run, task, mi)
end
local function tryLogKey(c, task, mi, try)
  if task == c.ownTask and mi == c.ownMi and tonumber(try) == c.ownTry and c.ownLog then return c.ownLog end
  return Keys.log(c.p, c.dag, c.run, task, mi, try)
end
local function tiState(c, task, mi) return rcall('HGET', c.tisKey, task .. ':' .. (mi or UNMAPPED)) end

-- Splits a field of the run's tis hash, `task:mapIndex`, into task and map index.
local function splitTiField(field)
  local at = string.find(field, ':[^:]*$')
  return string.sub(field, 1, at - 1), string.sub(field, at + 1)
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

-- Whether `try` is the running try of an instance: the one a worker may still finish,
-- reschedule or hand back. Anything else is a stale worker's.
local function isRunningTry(c, task, mi, try)
  return tiState(c, task, mi) == 'running' and tonumber(rcall('HGET', tiKey(c, task, mi), 'try')) == tonumber(try)
end
