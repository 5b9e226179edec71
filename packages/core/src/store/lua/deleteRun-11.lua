--[[
  Deletes a finished run with its task instances, logs, outputs and SLA misses (retention).
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
  Returns  1 when deleted (or already gone), 0 when the run has not finished
  Emits    nothing
]]
--- @include "includes/run-context"
local prefix, dagId, runId = ARGV[1], ARGV[2], ARGV[3]
local c = newCtx(prefix, dagId, runId, 0, false, KEYS)
local state = rcall('HGET', c.runKey, 'state')
if state ~= 'success' and state ~= 'failed' and state then return 0 end
local fields = rcall('HKEYS', c.tisKey)
for _, field in ipairs(fields) do
  local task, mi = splitTiField(field)
  local key = tiKey(c, task, mi)
  local tries = tonumber(rcall('HGET', key, 'try')) or 0
  for t = 1, tries do rcall('DEL', Keys.log(prefix, dagId, runId, task, mi, t)) end
  rcall('DEL', key)
end
-- A mapped task's instance -1 left the state hash when it expanded; its fields hash stays.
for _, field in ipairs(rcall('HKEYS', c.mapKey)) do
  local task = string.match(field, '^(.*):n$')
  if task then rcall('DEL', tiKey(c, task)) end
end
rcall('DEL', c.runKey, c.tisKey, c.outKey, c.mapKey, c.slaKey)
rcall('ZREM', c.runsKey, runId)
rcall('SREM', c.activeRunsKey, runId)
return 1
