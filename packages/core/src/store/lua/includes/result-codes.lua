--[[
  Result codes: the negative replies of the entry scripts, each one way a call can be refused.
  Mirrored by store/result-codes.ts, which turns each into the typed error of core/src/errors
  (result-codes.int.test.ts checks the two tables agree).
]]
local RC = {
  -- The DAG (or the version asked for) is not stored.
  DAG_NOT_STORED = -1,
  -- The run does not exist (or its DAG version is gone).
  RUN_NOT_FOUND = -2,
  -- The task (or the map index asked for) is not in the run.
  TI_NOT_FOUND = -3,
}
