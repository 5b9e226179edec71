--[[
  The scheduler's safety net for one DAG: starts queued runs, re-evaluates every active run
  (dependsOnPast waits, anything an event missed) and re-adds the job of any instance that
  has been queued longer than `staleMs` while its job is gone, and of any up_for_reschedule
  sensor whose next poke is more than `staleMs` overdue while its delayed job is gone. Idempotent.
  KEYS[1]  dag:{dag}               the DAG's hash
  KEYS[2]  runs:{dag}              its runs by logical date
  KEYS[3]  active-runs:{dag}       its running runs
  KEYS[4]  queued-runs:{dag}       its queued runs
  (the keys of its runs, their instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  ARGV[4]  staleMs
  Returns  { runs started, jobs re-added }
  Emits    what the re-evaluation queued or decided (ti events), run events of runs started
]]
--- @include "includes/run-context"
--- @include "includes/jobs"
--- @include "includes/run-start"
local prefix, dagId, now, staleMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local d = dagCtx(prefix, dagId, KEYS)
local version = rcall('HGET', d.dagKey, 'version')
local requeued = 0
for _, runId in ipairs(rcall('SMEMBERS', d.activeRunsKey)) do
  local c = newCtx(prefix, dagId, runId, now)
  if c.version then
    evaluateAll(c)
    local all = rcall('HGETALL', c.tisKey)
    for i = 1, #all, 2 do
      if all[i + 1] == 'queued' then
        local task, mi = splitTiField(all[i])
        local key = tiKey(c, task, mi)
        local f = rcall('HMGET', key, 'queuedAt', 'queue', 'jobId')
        if f[1] and now - tonumber(f[1]) > staleMs and f[2] and
            rcall('EXISTS', Keys.bullJob(prefix, f[2], f[3])) == 0 then
          -- enqueue increments the try; the lost try never started, so step back first.
          rcall('HINCRBY', key, 'try', -1)
          rcall('HSET', c.tisKey, all[i], 'none')
          enqueue(c, task, node(c, task), 0, mi)
          requeued = requeued + 1
        end
      elseif all[i + 1] == 'up_for_reschedule' then
        -- A sensor between pokes whose delayed job is gone: the same try's job again, now.
        local task, mi = splitTiField(all[i])
        local f = rcall('HMGET', tiKey(c, task, mi), 'nextPokeAt', 'queue', 'jobId', 'try')
        if f[1] and now - tonumber(f[1]) > staleMs and f[2] and
            rcall('EXISTS', Keys.bullJob(prefix, f[2], f[3])) == 0 then
          addJob(c, task, node(c, task), f[4], mi, f[3], 0)
          requeued = requeued + 1
        end
      end
    end
  end
end
local started = 0
if version then
  local m = cjson.decode(rcall('HGET', Keys.graph(prefix, dagId, version), '__meta'))
  started = startQueuedRuns(d, now, m.mar)
end
return { started, requeued }
