--[[
  A worker that shuts down hands a running try back: running → queued, same try, so the
  next worker that gets the job starts it again.
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now
]]
--- @include "lib"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local c = newCtx(prefix, dagId, runId, tonumber(ARGV[7]))
local key = tiKey(c, task)
if tiState(c, task) ~= 'running' or tonumber(rcall('HGET', key, 'try')) ~= tonumber(ARGV[6]) then return 0 end
rcall('HSET', c.tisKey, task .. ':-1', 'queued')
rcall('HSET', key, 'state', 'queued', 'queuedAt', c.now)
rcall('HDEL', key, 'pgid', 'worker', 'hostname')
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':-1')
emit(c, 'ti', task, 'queued', 'handed back by a worker that shut down')
return 1
