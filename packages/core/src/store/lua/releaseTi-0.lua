--[[
  A worker that shuts down hands a running try back: running → queued, same try, so the
  next worker that gets the job starts it again.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  now (ms)
  Returns  1 when handed back, 0 when the try is not the running one
  Emits    ti queued (detail: handed back by a worker that shut down)
]]
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/pools"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local c = newCtx(prefix, dagId, runId, tonumber(ARGV[7]))
local mi = ARGV[5]
local key = tiKey(c, task, mi)
if not isRunningTry(c, task, mi, ARGV[6]) then return 0 end
rcall('HSET', c.tisKey, task .. ':' .. mi, 'queued')
rcall('HSET', key, 'state', 'queued', 'queuedAt', c.now)
rcall('HDEL', key, 'pgid', 'worker', 'hostname')
poolRequeue(c, task, mi)
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
emit(c, 'ti', task, 'queued', 'handed back by a worker that shut down', mi)
return 1
