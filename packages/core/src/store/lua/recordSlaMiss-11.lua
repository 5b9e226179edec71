--[[
  Records that a task instance missed its SLA, or a run its deadline, once per (run, task):
  the first caller wins, so two schedulers never both report it. In the same step it
  appends the event and queues the onSlaMiss callback's job, when there is one.
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
  ARGV[5]  taskId ('' for the run's deadline)
  ARGV[6]  due (ms)
  ARGV[7]  state the instance (or run) was in
  ARGV[8]  callback queue
  ARGV[9]  callback reference ('' for none)
  Returns 1 when recorded now, 0 when it was already recorded (or the run is gone).
  Emits: type=sla, state=sla_miss, task (or ''), detail = JSON { dueAt, state }
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/jobs"
local prefix, dagId, runId, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local task, due, state, queue, ref = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local c = newCtx(prefix, dagId, runId, now, false, KEYS)
if not c.version then return 0 end
local field = task
if field == '' then field = '~run' end
if rcall('HSETNX', c.slaKey, field, now) == 0 then return 0 end
local kind = 'task'
if task == '' then kind = 'run' end
local detail = cjson.encode({ kind = kind, dueAt = tonumber(due), state = state })
emit(c, 'sla', task, 'sla_miss', detail)
if ref ~= '' then
  local taskJson = ''
  if task ~= '' then taskJson = ',"slaTask":' .. cjson.encode(task) end
  enqueueCallback(c, queue, ref, 'sla', ',"state":' .. cjson.encode(state) .. ',"sla":' .. detail .. taskJson)
end
return 1
