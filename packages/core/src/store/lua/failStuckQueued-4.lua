--[[
  Fails the instances of one DAG that have stayed queued longer than `timeoutMs` on a queue
  no worker listens on (Airflow's task_queued_timeout), each with the reason given for its
  queue, and lets their downstream and runs react. A job of theirs that a worker claims later
  finds them failed and is dropped. Idempotent.
  KEYS[1]  dag:{dag}               the DAG's hash
  KEYS[2]  runs:{dag}              its runs by logical date
  KEYS[3]  active-runs:{dag}       its running runs
  KEYS[4]  queued-runs:{dag}       its queued runs
  (the keys of its runs and their instances: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  ARGV[4]  timeoutMs
  ARGV[5…] queue, reason, queue, reason, …: the queues without a worker, and what to say
  Returns  how many instances failed
  Emits    ti failed (detail: the reason) per instance, what their downstream became, run
           success | failed when a run finished
]]
--- @include "includes/run-context"
--- @include "includes/finalize"
--- @include "includes/evaluate"
local prefix, dagId, now, timeoutMs = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local reasons = {}
for i = 5, #ARGV, 2 do reasons[ARGV[i]] = ARGV[i + 1] end
local d = dagCtx(prefix, dagId, KEYS)
local failed = 0
for _, runId in ipairs(rcall('SMEMBERS', d.activeRunsKey)) do
  local c = newCtx(prefix, dagId, runId, now)
  if c.version then
    local all = rcall('HGETALL', c.tisKey)
    for i = 1, #all, 2 do
      if all[i + 1] == 'queued' then
        local task, mi = splitTiField(all[i])
        local f = rcall('HMGET', tiKey(c, task, mi), 'queuedAt', 'queue')
        local why = f[2] and reasons[f[2]]
        if why and f[1] and now - tonumber(f[1]) > timeoutMs then
          finalize(c, task, 'failed', { 'reason', why }, why, mi)
          c.runDone = true
          failed = failed + 1
        end
      end
    end
    drain(c)
  end
end
return failed
