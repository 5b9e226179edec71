--[[
  Creates a DAG run with every task instance in state none, queues it, and starts queued
  runs up to maxActiveRuns. Idempotent: an existing run id is left alone (returns 0).
  Returns 1 when created, 2 when created and a run start it made is not finished (the
  caller goes on with continueRuns-0.lua), 0 when it existed, RC.DAG_NOT_STORED when the DAG is not stored.
  ARGV: prefix, dagId, runId, now, logicalDateMs, run fields (JSON object of strings),
        version ('' = the DAG's current version)
]]
--- @include "includes/create-run"
local created = createRunRecord(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], cjson.decode(ARGV[6]), ARGV[7])
if created == 1 and SHARED.starting then return 2 end
return created
