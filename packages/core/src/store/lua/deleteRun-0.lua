--[[
  Deletes a finished run with its task instances, logs, outputs and SLA misses (retention).
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  Returns  1 when deleted (or already gone), 0 when the run has not finished
  Emits    nothing
]]
--- @include "includes/run-context"
local prefix, dagId, runId = ARGV[1], ARGV[2], ARGV[3]
local c = newCtx(prefix, dagId, runId, 0)
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
rcall('ZREM', Keys.runs(prefix, dagId), runId)
rcall('SREM', Keys.activeRuns(prefix, dagId), runId)
return 1
