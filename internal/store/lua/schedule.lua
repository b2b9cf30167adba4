-- schedule puts every key of the pool that is missing from the worker's
-- schedule on it, due now: keys added before the schedule existed. It costs
-- two ZCARDs when nothing is missing. Returns how many keys it scheduled.
if redis.call('ZCARD', DUE) >= redis.call('ZCARD', ALL) then return 0 end
local n = 0
for _, id in ipairs(redis.call('ZRANGE', ALL, 0, -1)) do
  n = n + redis.call('ZADD', DUE, 'NX', now, id)
end
return n
