-- remove deletes keys and every index entry for them, on an admin's behalf.
-- ARGV[3..] are ids. Returns 1 for each id that was removed and 0 for one
-- not in the pool.
local result, removed = {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local st = redis.call('HGET', kkey(id), 'st')
  if st then
    delete_key(id, st, 'removed_by_admin', 'admin')
    result[#result + 1] = 1
    removed[#removed + 1] = id
  else
    result[#result + 1] = 0
  end
end
publish('removed', removed)
return result
