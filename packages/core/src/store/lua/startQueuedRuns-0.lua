--[[
  Starts queued runs of one DAG while fewer than its maxActiveRuns are running.
  ARGV: prefix, dagId, now
]]
--- @include "includes/run-context"
--- @include "includes/run-start"
local prefix, dagId, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local version = rcall('HGET', Keys.dag(prefix, dagId), 'version')
if not version then return 0 end
local m = cjson.decode(rcall('HGET', Keys.graph(prefix, dagId, version), '__meta'))
return startQueuedRuns(prefix, dagId, now, m.mar)
