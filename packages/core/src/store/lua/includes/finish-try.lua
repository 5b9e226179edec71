--[[
  Records the end of one try and, in the same step, makes ready and enqueues the
  downstream task instances it unblocked (or skips / fails them by their trigger rules).
  A failed try with tries left becomes up_for_retry with a delayed job for the next try.
  Returns the recorded state, or 'stale' when the try is no longer the running one.
  `f`: outcome (success|failed|skipped), output (JSON or ''), reason, exitCode (or ''),
  follow (JSON list for branches, or ''), skipDescendants ('1' when a short-circuit returned
  false), cap (log lines kept), noRetry ('1': a failure is final whatever the retries left,
  e.g. a sensor's timeout). The try's last log lines are ARGV[logFirst..logLast] (JSON
  each; logLast defaults to the end of ARGV), appended before anything else.
]]
--- @include "includes/run-context"
--- @include "includes/logs"
--- @include "includes/jobs"
--- @include "includes/finalize"
--- @include "includes/evaluate"
--- @include "includes/datasets"

local function finishTry(c, task, mi, try, f, logFirst, logLast)
  if not c.version then return 'stale' end
  local outcome = f.outcome
  appendTryLog(c, task, mi, try, logFirst, f.cap, logLast)
  local key = tiKey(c, task, mi)
  -- The instance's state is kept in its hash as in the run's tis hash; one read for all.
  local t = rcall('HMGET', key, 'state', 'try', 'startDate', 'maxTries', 'pool')
  if t[1] ~= 'running' or tonumber(t[2]) ~= tonumber(try) then return 'stale' end
  rcall('ZREM', c.runningKey, c.run .. '|' .. task .. ':' .. mi)
  local started = tonumber(t[3]) or c.now
  local fields = { 'duration', c.now - started }
  if f.reason ~= '' then fields[#fields + 1] = 'reason'; fields[#fields + 1] = f.reason end
  if f.exitCode ~= '' then fields[#fields + 1] = 'exitCode'; fields[#fields + 1] = f.exitCode end
  local n = node(c, task)

  if outcome == 'failed' and f.noRetry ~= '1' and try < (tonumber(t[4]) or try) then
    local delay = tonumber(n.dl) or 0
    if n.eb then
      delay = delay * (2 ^ (try - 1))
      if n.md and delay > n.md then delay = n.md end
    end
    if delay < 1 then delay = 1 end
    rcall('HSET', key, 'endDate', c.now, unpack(fields))
    enqueue(c, task, n, math.floor(delay), mi)
    return 'up_for_retry'
  end

  if f.output ~= '' then rcall('HSET', c.outKey, task .. ':' .. mi, f.output) end
  finalize(c, task, outcome, fields, f.reason, mi, { prev = 'running', pool = t[5] or false })
  if outcome == 'success' then recordDatasetUpdates(c, task, n) end

  if outcome == 'success' and f.follow ~= '' then
    local follow = {}
    for _, id in ipairs(cjson.decode(f.follow)) do follow[id] = true end
    for _, d in ipairs(n.d) do
      if not follow[d] and tiState(c, d) == 'none' then
        finalize(c, d, 'skipped', nil, 'not followed by branch ' .. task)
      end
    end
  end
  if outcome == 'success' and f.skipDescendants == '1' then
    local queue, seen = { task }, {}
    local i = 1
    while i <= #queue do
      for _, d in ipairs(node(c, queue[i]).d) do
        if not seen[d] then
          seen[d] = true
          queue[#queue + 1] = d
          local s = tiState(c, d)
          if s == 'none' or s == 'scheduled' then
            finalize(c, d, 'skipped', nil, 'short-circuited by ' .. task)
          end
        end
      end
      i = i + 1
    end
  end
  drain(c)
  return outcome
end

-- The finish fields as ARGV[first..first+7] give them.
local function finishArgs(first)
  return { outcome = ARGV[first], output = ARGV[first + 1], reason = ARGV[first + 2], exitCode = ARGV[first + 3],
    follow = ARGV[first + 4], skipDescendants = ARGV[first + 5], cap = ARGV[first + 6], noRetry = ARGV[first + 7] }
end
