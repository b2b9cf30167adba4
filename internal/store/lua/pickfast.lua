-- pickfast is Pick's common case, run without lib.lua (whose helpers
-- would be rebuilt on every call): one random selectable key with its
-- lease counted, as one string "id secret" (one bulk reply costs the
-- broker less to read than an array); false when the pool has no selectable
-- key, and Pick then runs the full pick script, which wakes due keys and
-- says why there is none. KEYS[1] is the pool's selectable set (only
-- active keys are in it: set_state keeps it in step), ARGV[1] the pool's
-- key prefix, ARGV[2] the time in unix milliseconds.
local id = redis.call('SRANDMEMBER', KEYS[1])
if not id then
  return false
end
local k = ARGV[1] .. 'k:' .. id
redis.call('HINCRBY', k, 'nl', 1)
redis.call('HSET', k, 'lu', ARGV[2])
return id .. ' ' .. redis.call('HGET', k, 's')
