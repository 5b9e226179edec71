--[[
  A worker that shuts down hands a running try back: running → queued, same try, so the
  next worker that gets the job starts it again. The same step runs a try again whose pod
  the cluster ended (evicted, preempted, node lost): given a cap, it counts `infraRequeues`
  on the instance and, at the cap, leaves the try running for the caller to fail.
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
  KEYS[12] ti:{dag}:{run}:{task}:{map}         the instance's hash
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  now (ms)
  ARGV[8]  why, for the event (optional; default: handed back by a worker that shut down)
  ARGV[9]  cap on infraRequeues (optional; absent: not counted)
  Returns  1 when handed back, 0 when the try is not the running one, 2 at the cap
  Emits    ti queued (detail: why)
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/pools"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local c = newCtx(prefix, dagId, runId, tonumber(ARGV[7]), false, KEYS)
local mi = ARGV[5]
ownTry(c, task, mi, ARGV[6], KEYS[12])
local key = tiKey(c, task, mi)
if not isRunningTry(c, task, mi, ARGV[6]) then return 0 end
if ARGV[9] then
  if (tonumber(rcall('HGET', key, 'infraRequeues')) or 0) >= tonumber(ARGV[9]) then return 2 end
  rcall('HINCRBY', key, 'infraRequeues', 1)
end
rcall('HSET', c.tisKey, task .. ':' .. mi, 'queued')
rcall('HSET', key, 'state', 'queued', 'queuedAt', c.now)
rcall('HDEL', key, 'pgid', 'worker', 'hostname')
poolRequeue(c, task, mi)
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
emit(c, 'ti', task, 'queued', ARGV[8] or 'handed back by a worker that shut down', mi)
return 1
