--[[
  Creates a DAG run with every task instance in state none, queues it, and starts queued
  runs up to maxActiveRuns. Idempotent: an existing run id is left alone (returns 0).
  ARGV: prefix, dagId, runId, now, logicalDateMs, run fields (JSON object of strings),
        version ('' = the DAG's current version)
]]
--- @include "lib"
local prefix, dagId, runId, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local runKey = prefix .. ':run:' .. dagId .. ':' .. runId
if rcall('EXISTS', runKey) == 1 then return 0 end
local dagKey = prefix .. ':dag:' .. dagId
local version = ARGV[7]
if version == nil or version == '' then version = rcall('HGET', dagKey, 'version') end
if not version then return -1 end
local graphKey = prefix .. ':graph:' .. dagId .. ':' .. version
local m = cjson.decode(rcall('HGET', graphKey, '__meta'))
local tasks = cjson.decode(rcall('HGET', graphKey, '__topo'))
local fields = cjson.decode(ARGV[6])
for k, v in pairs(fields) do rcall('HSET', runKey, k, v) end
rcall('HSET', runKey, 'dagId', dagId, 'runId', runId, 'state', 'queued', 'version', version,
  'logicalDate', ARGV[5], 'queuedAt', now, 'unfinished', #tasks)
local tisKey = prefix .. ':tis:' .. dagId .. ':' .. runId
local batch = {}
for _, task in ipairs(tasks) do
  batch[#batch + 1] = task .. ':-1'
  batch[#batch + 1] = 'none'
  if #batch >= 1000 then
    rcall('HSET', tisKey, unpack(batch))
    batch = {}
  end
end
if #batch > 0 then rcall('HSET', tisKey, unpack(batch)) end
rcall('ZADD', prefix .. ':runs:' .. dagId, ARGV[5], runId)
rcall('ZADD', prefix .. ':queued-runs:' .. dagId, ARGV[5], runId)
local c = newCtx(prefix, dagId, runId, now)
emit(c, 'run', nil, 'queued')
startQueuedRuns(prefix, dagId, now, m.mar)
return 1
