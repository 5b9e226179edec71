--[[
  Run creation, shared by createRun and the dataset triggers: a run with every task
  instance in state none, queued, then queued runs started up to maxActiveRuns.
]]
--- @include "includes/result-codes"
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/run-start"

-- Creates the run `runId` of `dagId` from `fields` (a table of run hash fields). `keys`: the
-- run's keys as Keys.runScript lists them (createRun's KEYS), or nil to build them.
-- Returns 1 when created, 0 when the run id exists, RC.DAG_NOT_STORED when the DAG is not stored.
local function createRunRecord(prefix, dagId, runId, now, logicalDate, fields, version, keys)
  keys = keys or Keys.runScript(prefix, dagId, runId)
  local runKey, dagKey = keys[1], keys[8]
  if rcall('EXISTS', runKey) == 1 then return 0 end
  if version == nil or version == '' then version = rcall('HGET', dagKey, 'version') end
  if not version then return RC.DAG_NOT_STORED end
  local graphKey = Keys.graph(prefix, dagId, version)
  local m = cjson.decode(rcall('HGET', graphKey, '__meta'))
  local tasks = cjson.decode(rcall('HGET', graphKey, '__topo'))
  for k, v in pairs(fields) do rcall('HSET', runKey, k, v) end
  rcall('HSET', runKey, 'dagId', dagId, 'runId', runId, 'state', 'queued', 'version', version,
    'logicalDate', logicalDate, 'queuedAt', now, 'unfinished', #tasks)
  local tisKey = keys[2]
  local batch = {}
  for _, task in ipairs(tasks) do
    batch[#batch + 1] = task .. ':-1'
    batch[#batch + 1] = 'none'
    if #batch >= 1000 then
      rcall('HSET', tisKey, unpack(batch))
      batch = {}
    end
  end
  if #batch > 0 then rcall('HSET', tisKey, unpack(batch)) end
  local c = newCtx(prefix, dagId, runId, now, false, keys)
  rcall('ZADD', c.runsKey, logicalDate, runId)
  rcall('ZADD', c.queuedRunsKey, logicalDate, runId)
  emit(c, 'run', nil, 'queued')
  startQueuedRuns(c, now, m.mar)
  return 1
end
