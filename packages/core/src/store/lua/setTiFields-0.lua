--[[
  Executor bookkeeping on a task instance (pod name, log cursors, process group, state
  detail), written only while the instance exists: a late write for a run that was deleted,
  or lost in a Redis failover, must not leave a key behind that no retention removes.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6…]  field/value pairs
  Returns  1 when written, 0 when the instance does not exist
  Emits    nothing
]]
--- @include "includes/run-context"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], 0)
local key = tiKey(c, ARGV[4], ARGV[5])
if rcall('EXISTS', key) == 0 then return 0 end
rcall('HSET', key, unpack(ARGV, 6))
return 1
