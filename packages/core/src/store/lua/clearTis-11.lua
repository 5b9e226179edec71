--[[
  Clears task instances of a run so they run again (Airflow's "clear"): each goes back to
  none with tries left for its retries, its output is dropped, the run is running again,
  and the cleared instances are re-evaluated in topological order.
  A running instance is cleared too; its worker sees the change and stops it.
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
  ARGV[4]  now (ms)
  ARGV[5]  task ids (JSON list)
  Returns  how many tasks were cleared, or RC.RUN_NOT_FOUND
  Emits    ti none (detail: cleared) per task, run running (detail: cleared) when the run had
           finished, then what the re-evaluation queued or decided
]]
--- @include "includes/result-codes"
--- @include "includes/run-context"
--- @include "includes/events"
--- @include "includes/pools"
--- @include "includes/run-start"
local prefix, dagId, runId, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local c = newCtx(prefix, dagId, runId, now, false, KEYS)
if not c.version then return RC.RUN_NOT_FOUND end
local cleared = 0
-- One instance back to none, keeping its try count so that its next try logs apart.
local function reset(task, mi, n)
  local key = tiKey(c, task, mi)
  poolLeave(c, task, mi)
  local try = tonumber(rcall('HGET', key, 'try')) or 0
  rcall('HSET', key, 'state', 'none', 'maxTries', try + 1 + (n.n or 0))
  -- A sensor's timeout counts again from its next first poke.
  rcall('HDEL', key, 'endDate', 'exitCode', 'reason', 'nextTryAt', 'startDate', 'duration', 'mapped',
    'firstPokeAt', 'pokes', 'nextPokeAt')
  rcall('HDEL', c.outKey, task .. ':' .. mi)
  rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
end
for _, task in ipairs(cjson.decode(ARGV[5])) do
  local n = node(c, task)
  local state = tiState(c, task)
  local m = n and not state and mapCounts(c, task)
  if m then
    -- A mapped task goes back to one unexpanded instance; it expands again when it runs,
    -- over whatever its upstream then returns. Its instances' workers see them gone and stop.
    local unfinished = 0
    for i = 0, m.n - 1 do
      local mi = tostring(i)
      if not FINISHED[tiState(c, task, mi)] then unfinished = unfinished + 1 end
      rcall('HDEL', c.tisKey, task .. ':' .. mi)
      reset(task, mi, n)
    end
    rcall('HDEL', c.mapKey, task .. ':n', task .. ':success', task .. ':skipped', task .. ':failed', task .. ':upstream_failed')
    rcall('HINCRBY', c.runKey, 'unfinished', 1 - unfinished)
    rcall('HSET', c.tisKey, task .. ':-1', 'none')
    reset(task, UNMAPPED, n)
    emit(c, 'ti', task, 'none', 'cleared')
    cleared = cleared + 1
  elseif n and state then
    if FINISHED[state] then rcall('HINCRBY', c.runKey, 'unfinished', 1) end
    rcall('HSET', c.tisKey, task .. ':-1', 'none')
    reset(task, UNMAPPED, n)
    emit(c, 'ti', task, 'none', 'cleared')
    cleared = cleared + 1
  end
end
if cleared > 0 and rcall('HGET', c.runKey, 'state') ~= 'running' then
  rcall('HSET', c.runKey, 'state', 'running')
  rcall('HDEL', c.runKey, 'endDate')
  rcall('SADD', c.activeRunsKey, runId)
  emit(c, 'run', nil, 'running', 'cleared')
end
evaluateAll(c)
return cleared
