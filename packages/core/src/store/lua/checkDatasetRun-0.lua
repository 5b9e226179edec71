--[[
  Creates a DAG's dataset-triggered run when all of its datasets have updates pending and it
  is neither paused nor missing: called when a DAG is unpaused or stored (its dataset list
  may have shrunk), since updates keep counting while it is paused.
  Returns the created run id, or '' when none was due.
  KEYS     none yet (every key is built from ARGV[1], the prefix, in includes/keys)
  ARGV[1]  prefix
  ARGV[2]  dagId
  ARGV[3]  now (ms)
  Emits    run queued (and running, when it starts) for the run it creates
]]
--- @include "includes/datasets"
return datasetRunIfCovered(ARGV[1], ARGV[2], tonumber(ARGV[3])) or ''
