--[[
  Marks one task instance success, failed or skipped by hand and lets its downstream react,
  as Airflow's "mark success / mark failed" does. A running try is stopped by its worker,
  which sees the state change.
  KEYS[1]  run:{dag}:{run}         the run's hash
  KEYS[2]  tis:{dag}:{run}         its instances' states
  KEYS[3]  out:{dag}:{run}         its outputs
  KEYS[4]  map:{dag}:{run}         its mapped tasks' counts
  KEYS[5]  running:{dag}           the DAG's running instances (maxActiveTasks)
  KEYS[6]  sla:{dag}:{run}         its SLA misses
  KEYS[7]  events                  the events stream
  KEYS[8]  dag:{dag}               the DAG's hash
  KEYS[9]  runs:{dag}              its runs by logical date
  KEYS[10] active-runs:{dag}       its running runs
  KEYS[11] queued-runs:{dag}       its queued runs
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  now (ms)
  ARGV[6]  state: success | failed | skipped
  ARGV[7]  mapIndex (optional; -1 or absent marks a mapped task as a whole)
  Returns  1, or RC.RUN_NOT_FOUND, RC.TI_NOT_FOUND (includes/result-codes)
  Emits    ti <state> (detail: marked <state>) per instance, then what its downstream became;
           run success | failed when the run finished
]]
--- @include "includes/result-codes"
--- @include "includes/run-context"
--- @include "includes/finalize"
--- @include "includes/evaluate"
local prefix, dagId, runId, task, now, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local c = newCtx(prefix, dagId, runId, now, false, KEYS)
if not c.version then return RC.RUN_NOT_FOUND end
if not node(c, task) then return RC.TI_NOT_FOUND end
if rcall('HGET', c.runKey, 'state') ~= 'running' then
  rcall('HSET', c.runKey, 'state', 'running')
  rcall('SADD', c.activeRunsKey, runId)
end
-- finalize counts an instance as finished only if it was not already; a finished one stays
-- counted, so marking it again leaves `unfinished` as it is. A mapped task is marked as a
-- whole (every instance) unless one map index is given.
local function mark(mi)
  rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
  finalize(c, task, state, nil, 'marked ' .. state, mi)
end
local mi = ARGV[7] or UNMAPPED
local m = not tiState(c, task) and mapCounts(c, task)
if mi ~= UNMAPPED then
  if not tiState(c, task, mi) then return RC.TI_NOT_FOUND end
  mark(mi)
elseif m then
  for i = 0, m.n - 1 do mark(tostring(i)) end
else
  mark(UNMAPPED)
end
c.runDone = true
drain(c)
return 1
