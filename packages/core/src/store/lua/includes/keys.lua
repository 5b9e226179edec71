--[[
  Keys: every Redis key the scripts touch is built here and nowhere else in Lua, mirroring
  store/keys.ts (same names, same layout; lua-keys.int.test.ts checks that both build the
  same strings, lua-layout.test.ts that no other Lua file builds a key). `p` is the prefix.
]]
local Keys = {}
function Keys.dag(p, dag) return p .. ':dag:' .. dag end
function Keys.graph(p, dag, version) return p .. ':graph:' .. dag .. ':' .. version end
function Keys.runs(p, dag) return p .. ':runs:' .. dag end
function Keys.activeRuns(p, dag) return p .. ':active-runs:' .. dag end
function Keys.queuedRuns(p, dag) return p .. ':queued-runs:' .. dag end
function Keys.startingRuns(p) return p .. ':starting-runs' end
function Keys.run(p, dag, run) return p .. ':run:' .. dag .. ':' .. run end
function Keys.tiStates(p, dag, run) return p .. ':tis:' .. dag .. ':' .. run end
function Keys.ti(p, dag, run, task, mi) return p .. ':ti:' .. dag .. ':' .. run .. ':' .. task .. ':' .. mi end
function Keys.log(p, dag, run, task, mi, try) return p .. ':log:' .. dag .. ':' .. run .. ':' .. task .. ':' .. mi .. ':' .. try end
function Keys.outputs(p, dag, run) return p .. ':out:' .. dag .. ':' .. run end
function Keys.mapCounts(p, dag, run) return p .. ':map:' .. dag .. ':' .. run end
function Keys.running(p, dag) return p .. ':running:' .. dag end
function Keys.slaMisses(p, dag, run) return p .. ':sla:' .. dag .. ':' .. run end
function Keys.events(p) return p .. ':events' end
function Keys.queues(p) return p .. ':queues' end
function Keys.pools(p) return p .. ':pools' end
function Keys.poolUsed(p, pool) return p .. ':pool-used:' .. pool end
function Keys.poolQueued(p, pool) return p .. ':pool-queued:' .. pool end
function Keys.datasets(p) return p .. ':datasets' end
function Keys.dataset(p, uri) return p .. ':dataset:' .. uri end
function Keys.datasetConsumers(p, uri) return p .. ':dataset-consumers:' .. uri end
function Keys.datasetPending(p, dag) return p .. ':dataset-pending:' .. dag end
function Keys.datasetEvents(p) return p .. ':dataset-events' end
function Keys.bullQueuePrefix(p, queue) return p .. ':bull:' .. queue .. ':' end
function Keys.bullJob(p, queue, jobId) return p .. ':bull:' .. queue .. ':' .. jobId end

-- The keys of one BullMQ queue that its storeAndEnqueueJob takes, by BullMQ's own names.
function Keys.bullQueue(p, queue)
  local bq = Keys.bullQueuePrefix(p, queue)
  return { prefix = bq, events = bq .. 'events', meta = bq .. 'meta', wait = bq .. 'wait', paused = bq .. 'paused',
    active = bq .. 'active', prioritized = bq .. 'prioritized', pc = bq .. 'pc', delayed = bq .. 'delayed',
    marker = bq .. 'marker' }
end
