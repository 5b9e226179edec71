--[[
  Creates a DAG's dataset-triggered run when all of its datasets have updates pending and it
  is neither paused nor missing: called when a DAG is unpaused or stored (its dataset list
  may have shrunk), since updates keep counting while it is paused.
  Returns the created run id, or '' when none was due.
  KEYS[1]  dag:{dag}               the DAG's hash
  KEYS[2]  dataset-pending:{dag}   its dataset updates since its last dataset-triggered run
  (the keys of the run it creates: built from ARGV[1], see includes/keys)
  (keys of other runs, instances, queues and pools: built from ARGV[1], see includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  Emits    run queued (and running, when it starts) for the run it creates
]]
--- @include "includes/datasets"
return datasetRunIfCovered(ARGV[1], ARGV[2], tonumber(ARGV[3]), KEYS[1], KEYS[2]) or ''
