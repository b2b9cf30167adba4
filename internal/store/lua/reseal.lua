-- reseal replaces stored secrets that still hold the value read before
-- re-encryption: ARGV[3..] are id, old, new triples. A key changed or
-- removed meanwhile is left alone. Returns how many were replaced.
local n = 0
for i = 3, #ARGV, 3 do
  local k = kkey(ARGV[i])
  if redis.call('HGET', k, 's') == ARGV[i + 1] then
    redis.call('HSET', k, 's', ARGV[i + 2])
    n = n + 1
  end
end
return n
