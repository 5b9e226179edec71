--[[
  Marks a run failed: running instances and sensors waiting up_for_reschedule become failed
  (workers stop the running ones; a rescheduled sensor's delayed job finds it stale), the
  ones not yet finished become skipped, nothing new is enqueued; the DAG's onFailure is queued.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
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
local c = newCtx(prefix, dagId, runId, now)
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
rcall('SREM', Keys.activeRuns(prefix, dagId), runId)
rcall('ZREM', Keys.queuedRuns(prefix, dagId), runId)
emit(c, 'run', nil, 'failed', ARGV[5])
runCallback(c, 'failed', ARGV[5])
startQueuedRuns(prefix, dagId, now, meta(c).mar)
return 1
