-- active returns one page of the pool's active keys in key id order, for a
-- broker's in-memory view. ARGV[3] is the ZRANGEBYLEX start ('-' or
-- '(' .. last id), ARGV[4] how many keys at most, ARGV[5] '1' to include
-- the stored secrets. Returns {active key count, id, weight, secret, id,
-- weight, secret, ...}; weight is '' when unset (1), secret '' unless asked.
local ids = redis.call('ZRANGEBYLEX', ix(ACTIVE), ARGV[3], '+', 'LIMIT', 0, tonumber(ARGV[4]))
local with_secrets = ARGV[5] == '1'
local out = {redis.call('ZCARD', ix(ACTIVE))}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', kkey(id), 'w', 's')
  out[#out + 1] = id
  out[#out + 1] = f[1] or ''
  out[#out + 1] = with_secrets and (f[2] or '') or ''
end
return out
