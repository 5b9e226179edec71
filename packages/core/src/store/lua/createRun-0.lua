--[[
  Creates a DAG run with every task instance in state none, queues it, and starts queued
  runs up to maxActiveRuns. Idempotent: an existing run id is left alone (returns 0).
  Returns 1 when created, 2 when created and a run start it made is not finished (the
  caller goes on with continueRuns-0.lua), 0 when it existed, RC.DAG_NOT_STORED when the DAG is not stored.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
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
local created = createRunRecord(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], cjson.decode(ARGV[6]), ARGV[7])
if created == 1 and SHARED.starting then return 2 end
return created
