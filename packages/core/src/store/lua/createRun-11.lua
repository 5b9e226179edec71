--[[
  Creates a DAG run with every task instance in state none, queues it, and starts queued
  runs up to maxActiveRuns. Idempotent: an existing run id is left alone (returns 0).
  Returns 1 when created, 2 when created and a run start it made is not finished (the
  caller goes on with continueRuns-1.lua), 0 when it existed, RC.DAG_NOT_STORED when the DAG is not stored.
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
  ARGV[5]  logicalDate (ms)
  ARGV[6]  run fields (JSON object of strings)
  ARGV[7]  version ('' = the DAG's current version)
  Emits    run queued; run running and the first tasks' ti events for the runs it starts
]]
--- @include "includes/create-run"
local created = createRunRecord(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], cjson.decode(ARGV[6]), ARGV[7], KEYS)
if created == 1 and SHARED.starting then return 2 end
return created
