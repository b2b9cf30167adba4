-- secrets returns one page of {id, stored secret} pairs in key id order,
-- for re-encryption. ARGV[3] is the ZRANGEBYLEX start, ARGV[4] the count.
local ids = redis.call('ZRANGEBYLEX', ALL, ARGV[3], '+', 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  out[#out + 1] = {id, redis.call('HGET', kkey(id), 's') or ''}
end
return out
