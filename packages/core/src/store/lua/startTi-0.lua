--[[
  A worker claims one try of a task instance (see includes/claim-try for what that means and returns).
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  runId
  ARGV[4]  taskId
  ARGV[5]  mapIndex
  ARGV[6]  try
  ARGV[7]  now (ms)
  ARGV[8]  workerId
  ARGV[9]  hostname
  ARGV[10] '1': write the claim's line to the try's log
  ARGV[11] '1': the upstream outputs in the reply
  ARGV[12] deaths (the job's stalled count)
  ARGV[13] maxDeaths (ALOFT_MAX_TAKEOVERS, 0 for no cap)
  Returns  { status, ... }: ok | takeover | stale | busy | pool | poison (includes/claim-try)
  Emits    ti running (a claim; detail `taken over by …` on a takeover); on poison, the
           failed or up_for_retry of the finish
]]
--- @include "includes/claim-try"
local c = newCtx(ARGV[1], ARGV[2], ARGV[3], ARGV[7], true)
return claimTry(c, ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[8], ARGV[9], ARGV[10] == '1', ARGV[11] == '1', ARGV[12], ARGV[13])
