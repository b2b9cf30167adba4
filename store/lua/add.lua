-- add puts keys into the pool as active and due for the worker's first
-- check. ARGV[3..n-1] are id, secret pairs, ARGV[n] the actor for the
-- audit trail. Returns 1 for each pair that was added and 0 for one
-- already present.
local actor = ARGV[#ARGV]
local result, added = {}, {}
for i = 3, #ARGV - 1, 2 do
  local id, secret = ARGV[i], ARGV[i + 1]
  local k = kkey(id)
  if redis.call('EXISTS', k) == 1 then
    result[#result + 1] = 0
  else
    redis.call('HSET', k, 's', secret, 'ad', now, 'nl', 0, 'nf', 0)
    redis.call('ZADD', ALL, 0, id)
    redis.call('ZADD', DUE, now, id)
    set_state(id, nil, ACTIVE, 'added', 0, actor)
    result[#result + 1] = 1
    added[#added + 1] = id
  end
end
publish('added', added)
return result
