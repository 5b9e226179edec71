--[[
  Records the end of one try (see includes/finish-try).
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now, outcome, output JSON or '', reason,
        exitCode or '', follow or '', skipDescendants, log cap (lines), noRetry, then the
        try's last log lines (JSON each)
]]
--- @include "includes/finish-try"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], ARGV[7])
return finishTry(c, ARGV[4], ARGV[5], tonumber(ARGV[6]), finishArgs(8), 16)
