--[[
  A reschedule-mode sensor whose poke said "not yet": running → up_for_reschedule, same try,
  in one step. It gives back its maxActiveTasks slot (running:{dag}) and its pool slots (it
  waits among the pool's queued again) and records when it pokes next; the worker then moves
  the same BullMQ job to delayed until nextPokeAt. Between the two steps nothing is held: a
  worker that dies there leaves a stalled job that is redelivered and simply pokes early
  (startTi accepts up_for_reschedule with the same try); if the job is lost altogether, the
  sweep re-adds it once nextPokeAt has passed.
  Returns 'up_for_reschedule', or 'stale' when the try is no longer the running one.
  Emits a `ti` event with state up_for_reschedule.
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
  KEYS[13] log:{dag}:{run}:{task}:{map}:{try}  the try's log
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  now (ms)
  ARGV[8]  nextPokeAt (ms)
  ARGV[9]  pokes so far
  ARGV[10] log cap (lines)
  ARGV[11…] the poke's last log lines (JSON each)
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/logs"
--- @include "includes/pools"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mi, try, now = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local c = newCtx(prefix, dagId, runId, now, false, KEYS)
ownTry(c, task, mi, try, KEYS[12], KEYS[13])
if not c.version then return 'stale' end
appendTryLog(c, task, mi, try, 11, ARGV[10])
local key = tiKey(c, task, mi)
if not isRunningTry(c, task, mi, try) then return 'stale' end
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
poolRequeue(c, task, mi)
rcall('HSET', c.tisKey, task .. ':' .. mi, 'up_for_reschedule')
rcall('HSET', key, 'state', 'up_for_reschedule', 'nextPokeAt', ARGV[8], 'pokes', ARGV[9], 'lastPokeAt', now)
rcall('HDEL', key, 'pgid')
emit(c, 'ti', task, 'up_for_reschedule', 'next poke at ' .. ARGV[8], mi)
return 'up_for_reschedule'
