--[[
  Starts queued runs of one DAG while fewer than its maxActiveRuns are running.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  Returns  how many runs it started
  Emits    run running, and the first tasks' ti events, per run started
]]
--- @include "includes/run-context"
--- @include "includes/run-start"
local prefix, dagId, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local version = rcall('HGET', Keys.dag(prefix, dagId), 'version')
if not version then return 0 end
local m = cjson.decode(rcall('HGET', Keys.graph(prefix, dagId, version), '__meta'))
return startQueuedRuns(prefix, dagId, now, m.mar)
