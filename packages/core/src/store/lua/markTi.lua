--[[
  Marks one task instance success, failed or skipped by hand and lets its downstream react,
  as Airflow's "mark success / mark failed" does. A running try is stopped by its worker,
  which sees the state change.
  ARGV: prefix, dagId, runId, taskId, now, state
]]
--- @include "lib"
local prefix, dagId, runId, task, now, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local c = newCtx(prefix, dagId, runId, now)
if not c.version or not node(c, task) then return -1 end
if rcall('HGET', c.runKey, 'state') ~= 'running' then
  rcall('HSET', c.runKey, 'state', 'running')
  rcall('SADD', prefix .. ':active-runs:' .. dagId, runId)
end
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':-1')
-- finalize counts the instance as finished only if it was not already; a finished one
-- stays counted, so marking it again leaves `unfinished` as it is.
finalize(c, task, state, nil, 'marked ' .. state)
c.runDone = true
drain(c)
return 1
