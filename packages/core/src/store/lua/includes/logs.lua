--[[
  Try logs: one capped list per try of a task instance. Lines past the cap are trimmed from
  the start; the instance counts them per try (`logTrimmed:{try}`), so a reader's line
  numbers stay absolute and a follower misses none.
]]
--- @include "includes/run-context"

-- Appends a try's log lines given as ARGV[first..last] (JSON each; `last` defaults to the
-- end of ARGV) to its log `logKey`, keeping the last `cap`; its instance's hash `tiK` counts
-- the lines trimmed.
local function appendLogLines(logKey, tiK, try, first, cap, last)
  last = last or #ARGV
  if last < first then return end
  local len = 0
  for i = first, last, 1000 do len = rcall('RPUSH', logKey, unpack(ARGV, i, math.min(i + 999, last))) end
  cap = tonumber(cap)
  if len > cap then
    rcall('LTRIM', logKey, -cap, -1)
    rcall('HINCRBY', tiK, 'logTrimmed:' .. try, len - cap)
  end
end

-- appendLogLines for one try of an instance of the run `c`.
local function appendTryLog(c, task, mi, try, first, cap, last)
  appendLogLines(tryLogKey(c, task, mi, try), tiKey(c, task, mi), try, first, cap, last)
end

-- Appends one system line to a try's log.
local function tryLogLine(c, task, mi, try, line)
  rcall('RPUSH', tryLogKey(c, task, mi, try), cjson.encode({ at = c.now, stream = 'system', line = line }))
end
