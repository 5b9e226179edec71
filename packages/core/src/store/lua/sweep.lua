--[[
  The scheduler's safety net for one DAG: starts queued runs, re-evaluates every active run
  (dependsOnPast waits, anything an event missed) and re-adds the job of any instance that
  has been queued longer than `staleMs` while its job is gone, and of any up_for_reschedule
  sensor whose next poke is more than `staleMs` overdue while its delayed job is gone. Idempotent.
  ARGV: prefix, dagId, now, staleMs
]]
--- @include "lib"
local prefix, dagId, now, staleMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local version = rcall('HGET', prefix .. ':dag:' .. dagId, 'version')
local requeued = 0
for _, runId in ipairs(rcall('SMEMBERS', prefix .. ':active-runs:' .. dagId)) do
  local c = newCtx(prefix, dagId, runId, now)
  if c.version then
    evaluateAll(c)
    local all = rcall('HGETALL', c.tisKey)
    for i = 1, #all, 2 do
      if all[i + 1] == 'queued' then
        local at = string.find(all[i], ':[^:]*$')
        local task, mi = string.sub(all[i], 1, at - 1), string.sub(all[i], at + 1)
        local key = tiKey(c, task, mi)
        local f = rcall('HMGET', key, 'queuedAt', 'queue', 'jobId')
        if f[1] and now - tonumber(f[1]) > staleMs and f[2] and
            rcall('EXISTS', c.bullPrefix .. ':' .. f[2] .. ':' .. f[3]) == 0 then
          -- enqueue increments the try; the lost try never started, so step back first.
          rcall('HINCRBY', key, 'try', -1)
          rcall('HSET', c.tisKey, all[i], 'none')
          enqueue(c, task, node(c, task), 0, mi)
          requeued = requeued + 1
        end
      elseif all[i + 1] == 'up_for_reschedule' then
        -- A sensor between pokes whose delayed job is gone: the same try's job again, now.
        local at = string.find(all[i], ':[^:]*$')
        local task, mi = string.sub(all[i], 1, at - 1), string.sub(all[i], at + 1)
        local f = rcall('HMGET', tiKey(c, task, mi), 'nextPokeAt', 'queue', 'jobId', 'try')
        if f[1] and now - tonumber(f[1]) > staleMs and f[2] and
            rcall('EXISTS', c.bullPrefix .. ':' .. f[2] .. ':' .. f[3]) == 0 then
          addJob(c, task, node(c, task), f[4], mi, f[3], 0)
          requeued = requeued + 1
        end
      end
    end
  end
end
local started = 0
if version then
  local m = cjson.decode(rcall('HGET', prefix .. ':graph:' .. dagId .. ':' .. version, '__meta'))
  started = startQueuedRuns(prefix, dagId, now, m.mar)
end
return { started, requeued }
