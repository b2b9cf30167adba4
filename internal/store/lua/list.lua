-- list returns one page of keys in key id order, first waking keys whose
-- time has come so that states are current. ARGV[3] is the index to page
-- ('all' or a state), ARGV[4] the ZRANGEBYLEX start ('-' or '(' .. last id),
-- ARGV[5] how many keys at most. Returns {counts, keys} where counts are
-- {total, active, cooling, suspect, disabled, quarantined} and each key is
-- {id, secret, state, reason, until, added, last used, last validated,
-- leases, failures, last failure kind, balance limit, balance used,
-- balance expiry}; the balance fields are '' when the worker never read one.
wake(1000)
local index = ARGV[3] == 'all' and ALL or ix(ARGV[3])
local counts = {redis.call('ZCARD', ALL)}
for _, st in ipairs(STATES) do counts[#counts + 1] = redis.call('ZCARD', ix(st)) end
local ids = redis.call('ZRANGEBYLEX', index, ARGV[4], '+', 'LIMIT', 0, tonumber(ARGV[5]))
local keys = {}
local fields = {'s', 'st', 'rsn', 'un', 'ad', 'lu', 'lv', 'nl', 'nf', 'fk', 'bl', 'bu', 'bx'}
local defaults = {'', '', '', '0', '0', '0', '0', '0', '0', '', '', '', ''}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', kkey(id), unpack(fields))
  local row = {id}
  for i = 1, #fields do row[i + 1] = f[i] or defaults[i] end
  keys[#keys + 1] = row
end
return {counts, keys}
