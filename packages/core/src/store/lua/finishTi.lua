--[[
  Records the end of one try and, in the same step, makes ready and enqueues the
  downstream task instances it unblocked (or skips / fails them by their trigger rules).
  A failed try with tries left becomes up_for_retry with a delayed job for the next try.
  Returns the recorded state, or 'stale' when the try is no longer the running one.
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now, outcome (success|failed|skipped),
        output JSON or '', reason, exitCode or '', follow (JSON list for branches) or '',
        skipDescendants ('1' when a short-circuit returned false), log cap (lines),
        noRetry ('1': a failure is final whatever the retries left, e.g. a sensor's timeout),
        then the try's last log lines (JSON each), appended before anything else
]]
--- @include "lib"
--- @include "datasets"
local prefix, dagId, runId, task = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mi, try, now, outcome = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local c = newCtx(prefix, dagId, runId, now)
if not c.version then return 'stale' end
appendTryLog(c, task, mi, try, 16, ARGV[14])
local key = tiKey(c, task, mi)
if not isRunningTry(c, task, mi, try) then return 'stale' end
rcall('ZREM', c.runningKey, runId .. '|' .. task .. ':' .. mi)
local started = tonumber(rcall('HGET', key, 'startDate')) or now
local fields = { 'duration', now - started }
if ARGV[10] ~= '' then fields[#fields + 1] = 'reason'; fields[#fields + 1] = ARGV[10] end
if ARGV[11] ~= '' then fields[#fields + 1] = 'exitCode'; fields[#fields + 1] = ARGV[11] end
local n = node(c, task)

if outcome == 'failed' and ARGV[15] ~= '1' and try < (tonumber(rcall('HGET', key, 'maxTries')) or try) then
  local delay = tonumber(n.dl) or 0
  if n.eb then
    delay = delay * (2 ^ (try - 1))
    if n.md and delay > n.md then delay = n.md end
  end
  if delay < 1 then delay = 1 end
  for i = 1, #fields, 2 do rcall('HSET', key, fields[i], fields[i + 1]) end
  rcall('HSET', key, 'endDate', now)
  enqueue(c, task, n, math.floor(delay), mi)
  return 'up_for_retry'
end

if ARGV[9] ~= '' then rcall('HSET', c.outKey, task .. ':' .. mi, ARGV[9]) end
finalize(c, task, outcome, fields, ARGV[10], mi)
if outcome == 'success' then recordDatasetUpdates(c, task, n) end

if outcome == 'success' and ARGV[12] ~= '' then
  local follow = {}
  for _, id in ipairs(cjson.decode(ARGV[12])) do follow[id] = true end
  for _, d in ipairs(n.d) do
    if not follow[d] and tiState(c, d) == 'none' then
      finalize(c, d, 'skipped', nil, 'not followed by branch ' .. task)
    end
  end
end
if outcome == 'success' and ARGV[13] == '1' then
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
