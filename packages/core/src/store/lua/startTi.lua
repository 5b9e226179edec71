--[[
  A worker claims one try of a task instance: queued/up_for_retry/up_for_reschedule → running
  (a reschedule-mode sensor's next poke claims the same try again). A stalled job
  redelivered after its worker died finds the instance running with the same try: that is
  a takeover, and the caller learns the previous holder so it can end what is left of it.
  Returns { status, previousWorker, previousHost, previousPgid, ...run hash fields },
  status one of ok | takeover | stale | busy (maxActiveTasks) | pool (no free slot); with ok and takeover the run's hash follows
  (field, value, ...), so the worker needs no second round trip for it. A first log line
  (JSON) is appended to the try's log when given.
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now, workerId, hostname, log line or ''
]]
--- @include "lib"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mi, try, now = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local c = newCtx(prefix, dagId, runId, now)
if not c.version or rcall('HGET', c.runKey, 'state') ~= 'running' then return { 'stale' } end
local key = tiKey(c, task, mi)
local state = tiState(c, task, mi)
local function claimed(status, prev)
  if ARGV[10] ~= '' then rcall('RPUSH', c.p .. ':log:' .. dagId .. ':' .. runId .. ':' .. task .. ':' .. mi .. ':' .. try, ARGV[10]) end
  local out = { status, prev[1] or '', prev[2] or '', prev[3] or '' }
  for _, v in ipairs(rcall('HGETALL', c.runKey)) do out[#out + 1] = v end
  return out
end
local current = tonumber(rcall('HGET', key, 'try'))
if current ~= try then return { 'stale' } end
if state == 'running' then
  local prev = rcall('HMGET', key, 'worker', 'hostname', 'pgid')
  rcall('HSET', key, 'worker', ARGV[8], 'hostname', ARGV[9], 'takenOverAt', now)
  rcall('HDEL', key, 'pgid')
  emit(c, 'ti', task, 'running', 'taken over by ' .. ARGV[8], mi)
  return claimed('takeover', prev)
end
if state ~= 'queued' and state ~= 'up_for_retry' and state ~= 'up_for_reschedule' then return { 'stale' } end
if rcall('ZCARD', c.runningKey) >= meta(c).mat then return { 'busy' } end
local pool, need = unpack(rcall('HMGET', key, 'pool', 'poolSlots'))
local conf = pool and poolConf(c, pool)
if pool and (conf or pool ~= DEFAULT_POOL) then
  need = tonumber(need) or 1
  local why
  if not conf then
    why = 'pool "' .. pool .. '" does not exist; create it with `aloft pools set ' .. pool .. ' <slots>`'
  elseif conf.slots > 0 and need > conf.slots then
    why = 'needs ' .. need .. ' slots of pool "' .. pool .. '", which has ' .. conf.slots
  end
  if why then
    finalize(c, task, 'failed', { 'reason', why }, why, mi)
    drain(c)
    return { 'stale' }
  end
  local usedKey = c.p .. ':pool-used:' .. pool
  local used = 0
  for _, v in ipairs(rcall('HVALS', usedKey)) do used = used + tonumber(v) end
  if used + need > conf.slots then return { 'pool' } end
  local o = occupant(c, task, mi)
  rcall('HSET', usedKey, o, need)
  rcall('HDEL', c.p .. ':pool-queued:' .. pool, o)
end
rcall('HSET', c.tisKey, task .. ':' .. mi, 'running')
rcall('HSET', key, 'state', 'running', 'worker', ARGV[8], 'hostname', ARGV[9])
-- A rescheduled sensor keeps the start of its first poke, as in Airflow.
if state ~= 'up_for_reschedule' then rcall('HSET', key, 'startDate', now) end
rcall('HDEL', key, 'endDate', 'exitCode', 'reason', 'nextTryAt', 'nextPokeAt', 'pgid')
rcall('ZADD', c.runningKey, now, runId .. '|' .. task .. ':' .. mi)
emit(c, 'ti', task, 'running', nil, mi)
return claimed('ok', {})
