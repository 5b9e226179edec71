--[[
  A worker's turn between tasks, in one call, for every task of the worker that finished
  since its last call: for each, record the end of its try (includes/finish-try), complete its
  BullMQ job and fetch the queue's next one (BullMQ's own moveToFinished, from the pinned
  BullMQ), then claim that next job's try (includes/claim-try), with its upstream outputs, for the
  same worker. A busy worker thus makes one request per task or fewer, instead of three.
  KEYS[1…14]  the queue's BullMQ keys for moveToFinished, as BullMQ builds them for the first
           finish (prefix bull:{queue}:): KEYS[1] wait, KEYS[2] active, KEYS[3] prioritized,
           KEYS[4] events, KEYS[5] stalled, KEYS[6] limiter, KEYS[7] delayed, KEYS[8] paused,
           KEYS[9] meta, KEYS[10] pc, KEYS[11] completed, KEYS[12] the first finish's job,
           KEYS[13] metrics, KEYS[14] marker.
           Only these are fixed per call: the finishes of one call are of one queue (a worker
           batches per BullMQ queue) but of any runs and DAGs, so each finish's run and instance
           keys, like those of the fetched job's run and of what the finish enqueues, are built
           from ARGV[1] (includes/keys), and its BullMQ keys come in ARGV as below.
  ARGV[1]  prefix
  ARGV[2]  now (ms)
  ARGV[3]  workerId
  ARGV[4]  hostname
  ARGV[5]  maxDeaths (ALOFT_MAX_TAKEOVERS, 0 for no cap; see includes/claim-try)
  ARGV[6]  number of finishes
  ARGV[7…] per finish:
        BullMQ key count (k), BullMQ argument count (a), log line count (l), dagId, runId,
        taskId, mapIndex, try, the finish fields (outcome, output, reason, exitCode, follow,
        skipDescendants, log cap, noRetry), BullMQ's k keys and a arguments for
        moveToFinished, then the finished try's l last log lines (JSON each).
        A negative k, -(d + 1), says the keys are the previous finish's (for the first,
        KEYS) except d of them, given as d pairs (position, key) in place of the keys:
        finishes on one queue differ only in the job's own key, so a batch does not repeat
        the queue's dozen others.
  Returns  per finish { BullMQ's result, the recorded state, the next job's claim or false },
  with a fourth element, the message, when claiming the fetched job raised an error (the
  finish and the completion stand; the worker claims that job itself), or { 'ERR', message }
  when the finish or the completion raised one (the other finishes still apply).
  Emits    per finish, what finishTi-13.lua emits, BullMQ's completed (and active for the fetched
  job) events on the queue's stream, and ti running for the claim.
]]
--- @include "includes/finish-try"
--- @include "includes/claim-try"

local function bullMoveToFinished(KEYS, ARGV)
--- @include "bullmq-command:moveToFinished-14"
end

local prefix, now, workerId, host, maxDeaths = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

-- The keys of the previous finish; the first finish's differ from KEYS in its encoding.
local lastKeys = KEYS

-- How many ARGV entries a finish's BullMQ keys take, from its key count.
local function keysLength(nk)
  if nk < 0 then return 2 * (-nk - 1) end
  return nk
end

-- The fetched job's data and stalled count, when BullMQ's reply is a job: { fields, jobId, 0, 0 }. Without one
-- to take now it is 0, or { 0, 0, rateLimitTtl, delayUntil } (rate limited, or only delayed
-- jobs left: a retry, a rescheduled sensor, a task that maxActiveTasks held back), which
-- goes back to BullMQ as it is. finish-and-next.int.test.ts covers both delayed cases.
local function fetchedJobData(bull)
  if type(bull) ~= 'table' or type(bull[1]) ~= 'table' or type(bull[2]) ~= 'string' then return nil end
  local h = bull[1]
  local data, stc
  for i = 1, #h, 2 do
    if h[i] == 'data' then data = h[i + 1] elseif h[i] == 'stc' then stc = h[i + 1] end
  end
  return data, stc
end

-- Claims the fetched job's try when it is a task try (not a callback job); false otherwise.
local function claimFetched(data, stc)
  local ok, d = pcall(cjson.decode, data)
  if ok and type(d) == 'table' and d.callback == nil and type(d.taskId) == 'string' and d.taskId ~= '' then
    return claimTry(newCtx(prefix, d.dagId, d.runId, now, true), d.taskId, tostring(d.mapIndex), tonumber(d.try), workerId, host, true, true, stc, maxDeaths)
  end
  return false
end

-- One finish whose arguments start at ARGV[at]; returns its reply.
local function one(at)
  local nk, na, nl = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  local keysAt = at + 16
  local bk, ba = {}, {}
  if nk >= 0 then
    for i = 1, nk do bk[i] = ARGV[keysAt + i - 1] end
  else
    for i = 1, #lastKeys do bk[i] = lastKeys[i] end
    for j = 0, -nk - 2 do bk[tonumber(ARGV[keysAt + 2 * j])] = ARGV[keysAt + 2 * j + 1] end
  end
  lastKeys = bk
  local kl = keysLength(nk)
  for i = 1, na do ba[i] = ARGV[keysAt + kl + i - 1] end
  local logAt = keysAt + kl + na

  local c = newCtx(prefix, ARGV[at + 3], ARGV[at + 4], now)
  local state = finishTry(c, ARGV[at + 5], ARGV[at + 6], tonumber(ARGV[at + 7]), finishArgs(at + 8), logAt, logAt + nl - 1)

  local bull = bullMoveToFinished(bk, ba)
  local data, stc = fetchedJobData(bull)
  if not data then return { bull, state, false } end
  -- The finish and the completion are done: a claim that raises must not make the worker
  -- think they were not (it would complete the job again); #process claims the job then.
  local ok, claim = pcall(claimFetched, data, stc)
  if not ok then return { bull, state, false, type(claim) == 'table' and tostring(claim.err) or tostring(claim) } end
  return { bull, state, claim }
end

local replies = {}
local at = 7
for i = 1, tonumber(ARGV[6]) do
  local ok, r = pcall(one, at)
  if ok then
    replies[i] = r
  else
    replies[i] = { 'ERR', type(r) == 'table' and tostring(r.err) or tostring(r) }
  end
  at = at + 16 + keysLength(tonumber(ARGV[at])) + tonumber(ARGV[at + 1]) + tonumber(ARGV[at + 2])
end
return replies
