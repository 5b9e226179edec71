--[[
  A worker claims one try of a task instance (see includes/claim-try for what that means and returns).
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
  ARGV[8]  workerId
  ARGV[9]  hostname
  ARGV[10] '1': write the claim's line to the try's log
  ARGV[11] '1': the upstream outputs in the reply
  ARGV[12] deaths (the job's stalled count)
  ARGV[13] maxDeaths (ALOFT_MAX_TAKEOVERS, 0 for no cap)
  Returns  { status, ... }: ok | takeover | stale | busy | pool | poison (includes/claim-try)
  Emits    ti running (a claim; detail `taken over by …` on a takeover); on poison, the
           failed or up_for_retry of the finish
]]
--- @include "includes/claim-try"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], ARGV[7], true, KEYS)
ownTry(c, ARGV[4], ARGV[5], ARGV[6], KEYS[12], KEYS[13])
return claimTry(c, ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[8], ARGV[9], ARGV[10] == '1', ARGV[11] == '1', ARGV[12], ARGV[13])
