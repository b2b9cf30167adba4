-- usage adds leases counted in a broker's memory to the keys' records.
-- ARGV[3..] are id, leases, last used ms triples. A key no longer in the
-- pool is skipped; last used only moves forward (replicas flush in any
-- order). No notification: usage is not a change of state. Returns how
-- many keys were updated.
local n = 0
for i = 3, #ARGV, 3 do
  local k = kkey(ARGV[i])
  if redis.call('EXISTS', k) == 1 then
    redis.call('HINCRBY', k, 'nl', ARGV[i + 1])
    local lu = tonumber(ARGV[i + 2])
    if lu > tonumber(redis.call('HGET', k, 'lu') or '0') then
      redis.call('HSET', k, 'lu', lu)
    end
    n = n + 1
  end
end
return n
