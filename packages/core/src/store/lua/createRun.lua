--[[
  Creates a DAG run with every task instance in state none, queues it, and starts queued
  runs up to maxActiveRuns. Idempotent: an existing run id is left alone (returns 0).
  Returns 1 when created, 0 when it existed, -1 when the DAG is not stored.
  ARGV: prefix, dagId, runId, now, logicalDateMs, run fields (JSON object of strings),
        version ('' = the DAG's current version)
]]
--- @include "runs"
return createRunRecord(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], cjson.decode(ARGV[6]), ARGV[7])
