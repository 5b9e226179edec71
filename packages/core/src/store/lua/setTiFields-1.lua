--[[
  Executor bookkeeping on a task instance (pod name, log cursors, process group, state
  detail), written only while the instance exists: a late write for a run that was deleted,
  or lost in a Redis failover, must not leave a key behind that no retention removes.
  KEYS[1]  the instance's hash (ti:{dag}:{run}:{task}:{map})
  ARGV[1]  a field, ARGV[2] its value, ARGV[3] the next field, and so on
  Returns  1 when written, 0 when the instance does not exist
  Emits    nothing
]]
if rcall('EXISTS', KEYS[1]) == 0 then return 0 end
rcall('HSET', KEYS[1], unpack(ARGV))
return 1
