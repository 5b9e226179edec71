--[[
  Datasets: a task with outlets that succeeds records an update of each dataset, in the same
  step as its finish. Every DAG scheduled on that dataset (the consumers index,
  `dataset-consumers:{uri}`, kept by saveDag) notes the update in `dataset-pending:{dag}`
  (uri → the latest update event); once that holds all of the DAG's datasets, one run of
  type dataset_triggered is created and the pending set is emptied, atomically, so no set of
  updates ever makes two runs and none is lost to a killed process.
  A paused (or missing) consumer keeps collecting updates; it gets one run for them when it
  is unpaused (Airflow's behaviour), see checkDatasetRun-2.lua.
]]
--- @include "includes/keys"
--- @include "includes/create-run"

local DATASET_EVENTS_KEPT = 10000

-- An instant (ms since the epoch, UTC) as ISO 8601, as JavaScript's toISOString writes it.
local function isoTime(ms)
  local s = math.floor(ms / 1000)
  local days = math.floor(s / 86400)
  local rem = s - days * 86400
  -- Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, math.floor(rem / 3600),
    math.floor((rem % 3600) / 60), rem % 60, ms % 1000)
end

-- Creates the dataset-triggered run of `consumer` when every one of its datasets has an
-- update pending; returns the run id, or nil. `dagKey` and `pendingKey`: the consumer's dag
-- hash and dataset-pending hash (checkDatasetRun's KEYS), or nil to build them.
local function datasetRunIfCovered(prefix, consumer, now, dagKey, pendingKey)
  dagKey = dagKey or Keys.dag(prefix, consumer)
  local h = rcall('HMGET', dagKey, 'datasets', 'paused', 'missing')
  if not h[1] or h[2] == '1' or h[3] == '1' then return nil end
  pendingKey = pendingKey or Keys.datasetPending(prefix, consumer)
  local events, first = {}, now
  for _, uri in ipairs(cjson.decode(h[1])) do
    local raw = rcall('HGET', pendingKey, uri)
    if not raw then return nil end
    local ev = cjson.decode(raw)
    if ev.at < first then first = ev.at end
    events[#events + 1] = ev
  end
  rcall('DEL', pendingKey)
  local n = rcall('HINCRBY', dagKey, 'datasetRuns', 1)
  local runId = 'dataset_triggered__' .. isoTime(now) .. '__' .. n
  createRunRecord(prefix, consumer, runId, now, tostring(now), {
    runType = 'dataset_triggered',
    dataIntervalStart = tostring(first),
    dataIntervalEnd = tostring(now),
    conf = '{}',
    datasetEvents = cjson.encode(events),
  }, '')
  return runId
end

-- Records the updates of a task's outlets (graph node field `o`) after it succeeded.
local function recordDatasetUpdates(c, task, n)
  if not n.o then return end
  for _, uri in ipairs(n.o) do
    local ev = cjson.encode({ uri = uri, at = c.now, dagId = c.dag, runId = c.run, taskId = task })
    local dsKey = Keys.dataset(c.p, uri)
    local eventsKey = Keys.datasetEvents(c.p)
    rcall('SADD', Keys.datasets(c.p), uri)
    rcall('HSET', dsKey, 'lastUpdateAt', c.now, 'lastEvent', ev)
    rcall('HINCRBY', dsKey, 'updates', 1)
    rcall('LPUSH', eventsKey, ev)
    rcall('LTRIM', eventsKey, 0, DATASET_EVENTS_KEPT - 1)
    for _, consumer in ipairs(rcall('SMEMBERS', Keys.datasetConsumers(c.p, uri))) do
      rcall('HSET', Keys.datasetPending(c.p, consumer), uri, ev)
      datasetRunIfCovered(c.p, consumer, c.now)
    end
  end
end
