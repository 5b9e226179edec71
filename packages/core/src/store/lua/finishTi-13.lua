--[[
  Records the end of one try (see includes/finish-try).
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
  ARGV[8]  outcome: success | failed | skipped
  ARGV[9]  output JSON, or ''
  ARGV[10] reason, or ''
  ARGV[11] exitCode, or ''
  ARGV[12] follow: JSON list of branch task ids, or ''
  ARGV[13] skipDescendants: '1' when a short-circuit returned false
  ARGV[14] log cap (lines)
  ARGV[15] noRetry: '1' when a failure is final whatever the retries left
  ARGV[16…] the try's last log lines (JSON each)
  Returns  the recorded state (success | failed | skipped | up_for_retry), or 'stale'
  Emits    ti <recorded state>; ti queued / skipped / upstream_failed / mapped for the
           downstream it decided; run success | failed when the run finished
]]
--- @include "includes/finish-try"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], ARGV[7], false, KEYS)
ownTry(c, ARGV[4], ARGV[5], ARGV[6], KEYS[12], KEYS[13])
return finishTry(c, ARGV[4], ARGV[5], tonumber(ARGV[6]), finishArgs(8), 16)
