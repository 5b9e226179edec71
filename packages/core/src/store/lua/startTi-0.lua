--[[
  A worker claims one try of a task instance (see includes/claim-try for what that means and returns).
  ARGV: prefix, dagId, runId, taskId, mapIndex, try, now, workerId, hostname, '1' to write
        the claim's line to the try's log, '1' to have the upstream outputs in the reply,
        deaths (the job's stalled count), maxDeaths (ALOFT_MAX_TAKEOVERS, 0 for no cap)
]]
--- @include "includes/claim-try"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], ARGV[7], true)
return claimTry(c, ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[8], ARGV[9], ARGV[10] == '1', ARGV[11] == '1', ARGV[12], ARGV[13])
