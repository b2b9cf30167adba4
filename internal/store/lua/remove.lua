-- remove deletes keys and every index entry for them, on an admin's behalf.
-- ARGV[3..n-1] are ids, ARGV[n] the actor for the audit trail. Returns 1
-- for each id that was removed and 0 for one not in the pool.
local actor = ARGV[#ARGV]
local result, removed = {}, {}
for i = 3, #ARGV - 1 do
  local id = ARGV[i]
  local st = redis.call('HGET', kkey(id), 'st')
  if st then
    delete_key(id, st, 'removed_by_admin', actor)
    result[#result + 1] = 1
    removed[#removed + 1] = id
  else
    result[#result + 1] = 0
  end
end
publish('removed', removed)
return result
