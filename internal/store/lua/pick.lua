-- pick leases one selectable key: {1, id, secret}, or, when there is none,
-- {0, total keys, cooling keys, first wake-up time in ms (0 if none)}.
wake(100)
local id = redis.call('SRANDMEMBER', SELECTABLE)
if not id then
  local first = redis.call('ZRANGE', WAKE, 0, 0, 'WITHSCORES')
  return {0, redis.call('ZCARD', ALL), redis.call('ZCARD', ix(COOLING)), tonumber(first[2] or 0)}
end
local k = kkey(id)
redis.call('HINCRBY', k, 'nl', 1)
redis.call('HSET', k, 'lu', now)
return {1, id, redis.call('HGET', k, 's')}
