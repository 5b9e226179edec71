--[[
  Evaluation: a task whose upstreams changed is decided by its trigger rule and then queued,
  expanded (mapped), finished at once (an empty task) or finalized as skipped /
  upstream_failed; `drain` follows what that finalized, transitively, and finishes the run
  when nothing is left unfinished (then starts the DAG's next queued runs).
]]
--- @include "includes/run-context"
--- @include "includes/jobs"
--- @include "includes/finalize"
--- @include "includes/trigger-rules"
--- @include "includes/mapping"

-- Defined in run-start, which includes this file: drain starts queued runs, a run start drains.
local startQueuedRuns

local function evaluate(c, task)
  local st = tiState(c, task)
  if st ~= 'none' and st ~= 'scheduled' then return end
  local n = node(c, task)
  local d = decide(c, n)
  if d == nil then return end
  if d == 'run' then
    if n.dop and not pastAllows(c, task, n) then return end
    if n.m then
      expand(c, task, n)
    elseif n.k == 'empty' and not n.cb then
      -- Like Airflow's EmptyOperator: never sent to a worker, unless it has callbacks to run.
      finalize(c, task, 'success', { 'startDate', c.now })
    else
      enqueue(c, task, n, 0)
    end
  else
    finalize(c, task, d, nil)
  end
end

-- Evaluates the direct downstream of every task finalized so far, transitively. A copy of a
-- mapped group's task makes its group downstream's same copy ready; anything else, whole
-- tasks (and every copy of an expanded group task that it is an outside upstream of).
local function drain(c)
  local i = 1
  while i <= #c.work do
    local item = c.work[i]
    if type(item) == 'table' then
      local n = node(c, item[1])
      for _, d in ipairs(n.d) do
        local dn = node(c, d)
        if dn.m and dn.m.g == n.m.g then evaluateCopy(c, d, item[2]) else evaluate(c, d) end
      end
    else
      for _, d in ipairs(node(c, item).d) do
        evaluate(c, d)
        local dn = node(c, d)
        if dn.m and dn.m.g and not tiState(c, d) then evaluateCopies(c, d) end
      end
    end
    i = i + 1
  end
  c.work = {}
  if c.runDone then
    c.runDone = false
    if tonumber(rcall('HGET', c.runKey, 'unfinished')) <= 0 and rcall('HGET', c.runKey, 'state') == 'running' then
      finishRun(c)
      startQueuedRuns(c, c.now, meta(c).mar)
    end
  end
end

--- @include "includes/run-start"
