-- add puts keys into the pool as active and due for the worker's first
-- check. ARGV[3..n-1] are id, secret, weight triples, ARGV[n] the actor for
-- the audit trail; weight '' leaves it unset (1 for a new key, unchanged
-- for a present one), otherwise a present key takes the new weight too.
-- Returns 1 for each triple that was added and 0 for one already present.
local actor = ARGV[#ARGV]
local result, added, reweighed = {}, {}, {}
for i = 3, #ARGV - 1, 3 do
  local id, secret, weight = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local k = kkey(id)
  if redis.call('EXISTS', k) == 1 then
    result[#result + 1] = 0
    if weight ~= '' and redis.call('HGET', k, 'w') ~= weight then
      redis.call('HSET', k, 'w', weight)
      reweighed[#reweighed + 1] = id
    end
  else
    redis.call('HSET', k, 's', secret, 'ad', now, 'nl', 0, 'nf', 0)
    if weight ~= '' then redis.call('HSET', k, 'w', weight) end
    redis.call('ZADD', ALL, 0, id)
    redis.call('ZADD', DUE, now, id)
    set_state(id, nil, ACTIVE, 'added', 0, actor)
    result[#result + 1] = 1
    added[#added + 1] = id
  end
end
publish('added', added)
publish('changed', reweighed)
return result
