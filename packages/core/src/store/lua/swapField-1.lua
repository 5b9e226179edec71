--[[
  Sets a hash field only if it still holds the value it was read with (compare and set), so a
  rewrite of a stored value (re-sealing it with a new key) never overwrites a newer write.
  KEYS[1]  the hash (connections or variables)
  ARGV[1]  the field
  ARGV[2]  the value it was read with
  ARGV[3]  the new value
  Returns  1 when set, 0 when the field had changed or is gone.
  Emits    nothing.
]]
if rcall('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  rcall('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
