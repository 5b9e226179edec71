--[[
  A worker's whole turn between two tasks, in one call: record the end of one try (finish.lua),
  complete its BullMQ job and fetch the queue's next one (BullMQ's own moveToFinished, from
  the pinned BullMQ), then claim that next job's try (claim.lua) for the same worker. A
  worker that keeps busy thus makes one request per task instead of three.
  ARGV: prefix, now, workerId, hostname, BullMQ key count (k), BullMQ argument count (a),
        dagId, runId, taskId, mapIndex, try, then the finish fields (outcome, output, reason,
        exitCode, follow, skipDescendants, log cap, noRetry), then BullMQ's k keys and a
        arguments for moveToFinished, then the finished try's last log lines (JSON each).
  Returns { BullMQ's result, the recorded state, the next job's claim (with its upstream
  outputs, see claim.lua) or false }.
]]
--- @include "lib"
--- @include "datasets"
--- @include "claim"
--- @include "finish"

local function bullMoveToFinished(KEYS, ARGV)
--- @include "bullmq-command:moveToFinished-14"
end

local prefix, now, workerId, host = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local nk, na = tonumber(ARGV[5]), tonumber(ARGV[6])
local first = 20
local bk, ba = {}, {}
for i = 1, nk do bk[i] = ARGV[first + i - 1] end
for i = 1, na do ba[i] = ARGV[first + nk + i - 1] end

local c = newCtx(prefix, ARGV[7], ARGV[8], now)
local state = finishTry(c, ARGV[9], ARGV[10], tonumber(ARGV[11]), finishArgs(12), first + nk + na)

local bull = bullMoveToFinished(bk, ba)
local claim = false
if type(bull) == 'table' and bull[1] and bull[2] then
  local data
  local h = bull[1]
  for i = 1, #h, 2 do
    if h[i] == 'data' then data = h[i + 1] end
  end
  local ok, d = pcall(cjson.decode, data or '')
  if ok and type(d) == 'table' and d.callback == nil and type(d.taskId) == 'string' and d.taskId ~= '' then
    local line = cjson.encode({ at = tonumber(now), stream = 'system',
      line = 'try ' .. d.try .. ' of ' .. d.dagId .. '.' .. d.taskId .. ', run ' .. d.runId .. ', on ' .. workerId })
    claim = claimTry(newCtx(prefix, d.dagId, d.runId, now, true), d.taskId, tostring(d.mapIndex), tonumber(d.try), workerId, host, line, true)
  end
end
return { bull, state, claim }
