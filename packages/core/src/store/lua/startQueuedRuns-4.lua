--[[
  Starts queued runs of one DAG while fewer than its maxActiveRuns are running.
  KEYS[1]  dag:{dag}               the DAG's hash
  KEYS[2]  runs:{dag}              its runs by logical date
  KEYS[3]  active-runs:{dag}       its running runs
  KEYS[4]  queued-runs:{dag}       its queued runs
  (the keys of its runs, their instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  Returns  how many runs it started
  Emits    run running, and the first tasks' ti events, per run started
]]
--- @include "includes/run-context"
--- @include "includes/run-start"
local prefix, dagId, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local d = dagCtx(prefix, dagId, KEYS)
local version = rcall('HGET', d.dagKey, 'version')
if not version then return 0 end
local m = cjson.decode(rcall('HGET', Keys.graph(prefix, dagId, version), '__meta'))
return startQueuedRuns(d, now, m.mar)
