--[[
  Keys: every Redis key the scripts build is built here and nowhere else in Lua, mirroring
  store/keys.ts (same names, same layout; lua-keys.int.test.ts checks that both build the
  same strings, lua-layout.test.ts that no other Lua file builds a key). `p` is the prefix.
  An entry script gets the fixed keys of its call as KEYS, built by store/keys.ts; it builds
  here only those it finds as it runs: the keys of a run or instance other than the one it
  was called about (a downstream instance, the previous run, a queued run it starts, a
  dataset-triggered run it creates), the graph of the run's version, the BullMQ keys of the
  queue a task goes to, a pool's occupants, a dataset's. All of them come from `p`, the
  prefix the script gets as ARGV[1], so a hash tag in the prefix (`aloft:{etl}`) keeps
  them in the slot of the KEYS it was given.
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

-- A run's keys as store/keys.ts runScriptKeys lists them (an entry script's KEYS about one run):
-- run, tis, out, map, running, sla, events, then the DAG's (Keys.dagScript).
function Keys.dagScript(p, dag) return { Keys.dag(p, dag), Keys.runs(p, dag), Keys.activeRuns(p, dag), Keys.queuedRuns(p, dag) } end
function Keys.runScript(p, dag, run)
  return { Keys.run(p, dag, run), Keys.tiStates(p, dag, run), Keys.outputs(p, dag, run), Keys.mapCounts(p, dag, run),
    Keys.running(p, dag), Keys.slaMisses(p, dag, run), Keys.events(p), Keys.dag(p, dag), Keys.runs(p, dag),
    Keys.activeRuns(p, dag), Keys.queuedRuns(p, dag) }
end

-- The keys of one BullMQ queue that its storeAndEnqueueJob takes, by BullMQ's own names.
function Keys.bullQueue(p, queue)
  local bq = Keys.bullQueuePrefix(p, queue)
  return { prefix = bq, events = bq .. 'events', meta = bq .. 'meta', wait = bq .. 'wait', paused = bq .. 'paused',
    active = bq .. 'active', prioritized = bq .. 'prioritized', pc = bq .. 'pc', delayed = bq .. 'delayed',
    marker = bq .. 'marker' }
end
