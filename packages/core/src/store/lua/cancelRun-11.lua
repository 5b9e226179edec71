--[[
  Marks a run failed: running instances and sensors waiting up_for_reschedule become failed
  (workers stop the running ones; a rescheduled sensor's delayed job finds it stale), the
  ones not yet finished become skipped, nothing new is enqueued; the DAG's onFailure is queued.
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
  ARGV[4]  now (ms)
  ARGV[5]  reason
  Returns  1 when cancelled, 0 when the run had finished, or RC.RUN_NOT_FOUND
  Emits    ti failed | skipped per unfinished instance (detail: the reason), run failed;
           run running for the queued runs it then starts
]]
--- @include "includes/result-codes"
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/finalize"
--- @include "includes/run-start"
local prefix, dagId, runId, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local c = newCtx(prefix, dagId, runId, now, false, KEYS)
if not c.version then return RC.RUN_NOT_FOUND end
local state = rcall('HGET', c.runKey, 'state')
if state == 'success' or state == 'failed' then return 0 end
local all = rcall('HGETALL', c.tisKey)
for i = 1, #all, 2 do
  local field, s = all[i], all[i + 1]
  local task, mi = splitTiField(field)
  if not FINISHED[s] then
    local target = 'skipped'
    if s == 'running' or s == 'up_for_reschedule' then target = 'failed' end
    rcall('ZREM', c.runningKey, runId .. '|' .. field)
    finalize(c, task, target, { 'reason', ARGV[5] }, ARGV[5], mi)
  end
end
c.work = {}
rcall('HSET', c.runKey, 'state', 'failed', 'endDate', now, 'reason', ARGV[5])
rcall('SREM', c.activeRunsKey, runId)
rcall('ZREM', c.queuedRunsKey, runId)
emit(c, 'run', nil, 'failed', ARGV[5])
runCallback(c, 'failed', ARGV[5])
startQueuedRuns(c, now, meta(c).mar)
return 1
