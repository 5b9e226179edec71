--[[
  Executor bookkeeping on a task instance (pod name, log cursors, process group, state
  detail), written only while the instance exists: a late write for a run that was deleted,
  or lost in a Redis failover, must not leave a key behind that no retention removes.
  ARGV: prefix, dagId, runId, taskId, mapIndex, then field/value pairs
  Returns 1 when written, 0 when the instance does not exist.
]]
--- @include "includes/run-context"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], 0)
local key = tiKey(c, ARGV[4], ARGV[5])
if rcall('EXISTS', key) == 0 then return 0 end
rcall('HSET', key, unpack(ARGV, 6))
return 1
