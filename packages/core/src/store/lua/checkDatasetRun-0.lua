--[[
  Creates a DAG's dataset-triggered run when all of its datasets have updates pending and it
  is neither paused nor missing: called when a DAG is unpaused or stored (its dataset list
  may have shrunk), since updates keep counting while it is paused.
  Returns the created run id, or '' when none was due.
  ARGV: prefix, dagId, now
]]
--- @include "includes/datasets"
return datasetRunIfCovered(ARGV[1], ARGV[2], tonumber(ARGV[3])) or ''
