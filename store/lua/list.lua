-- list returns one page of keys in key id order, first waking keys whose
-- time has come so that states are current. ARGV[3] is the index to page
-- ('all' or a state), ARGV[4] the ZRANGEBYLEX start ('-' or '(' .. last id),
-- ARGV[5] how many keys at most. Returns {counts, keys} where counts are
-- {total, active, cooling, suspect, disabled} and each key is
-- {id, secret, state, reason, until, added, last used, last validated,
-- leases, failures, last failure kind}.
wake(1000)
local index = ARGV[3] == 'all' and ALL or ix(ARGV[3])
local counts = {redis.call('ZCARD', ALL)}
for _, st in ipairs(STATES) do counts[#counts + 1] = redis.call('ZCARD', ix(st)) end
local ids = redis.call('ZRANGEBYLEX', index, ARGV[4], '+', 'LIMIT', 0, tonumber(ARGV[5]))
local keys = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', kkey(id), 's', 'st', 'rsn', 'un', 'ad', 'lu', 'lv', 'nl', 'nf', 'fk')
  keys[#keys + 1] = {id, f[1] or '', f[2] or '', f[3] or '', f[4] or '0', f[5] or '0', f[6] or '0', f[7] or '0', f[8] or '0', f[9] or '0', f[10] or ''}
end
return {counts, keys}
