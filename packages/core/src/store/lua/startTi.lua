--[[
  A worker claims one try of a task instance: queued/up_for_retry → running. A stalled job
  redelivered after its worker died finds the instance running with the same try: that is
  a takeover, and the caller learns the previous holder so it can end what is left of it.
  Returns { status, previousWorker, previousHost, previousPgid }, status one of
  ok | takeover | stale | busy.
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now, workerId, hostname
]]
--- @include "lib"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local try, now = tonumber(ARGV[6]), tonumber(ARGV[7])
local c = newCtx(prefix, dagId, runId, now)
if not c.version or rcall('HGET', c.runKey, 'state') ~= 'running' then return { 'stale' } end
local key = tiKey(c, task)
local state = tiState(c, task)
local current = tonumber(rcall('HGET', key, 'try'))
if current ~= try then return { 'stale' } end
if state == 'running' then
  local prev = rcall('HMGET', key, 'worker', 'hostname', 'pgid')
  rcall('HSET', key, 'worker', ARGV[8], 'hostname', ARGV[9], 'takenOverAt', now)
  rcall('HDEL', key, 'pgid')
  emit(c, 'ti', task, 'running', 'taken over by ' .. ARGV[8])
  return { 'takeover', prev[1] or '', prev[2] or '', prev[3] or '' }
end
if state ~= 'queued' and state ~= 'up_for_retry' then return { 'stale' } end
if rcall('ZCARD', c.runningKey) >= meta(c).mat then return { 'busy' } end
rcall('HSET', c.tisKey, task .. ':-1', 'running')
rcall('HSET', key, 'state', 'running', 'startDate', now, 'worker', ARGV[8], 'hostname', ARGV[9])
rcall('HDEL', key, 'endDate', 'exitCode', 'reason', 'nextTryAt', 'pgid')
rcall('ZADD', c.runningKey, now, runId .. '|' .. task .. ':-1')
emit(c, 'ti', task, 'running')
return { 'ok' }
