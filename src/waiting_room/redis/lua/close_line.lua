-- close_line(most to release) -> how many waiting buyers were released
-- The show has every seat sold and no hold open: its waiting buyers (in line, then those of
-- the pre-queue who skip the line) lose their places, the front first, and their tokens are
-- remembered as released by the closing. Active sessions run out as they do.
local limit = tonumber(ARGV[9])
end_timed_out(100)
open_if_due()
local released = 0
local function release(user)
  local entry = redis.call('HGET', WAITERS, user)
  drop_waiter(user)
  if entry then
    record_ended(user, entry, now, ' closed')
    released = released + 1
  end
end
local front = redis.call('ZPOPMIN', WAITING, limit)
for i = 1, #front, 2 do
  release(front[i])
end
if released < limit then
  for _, user in ipairs(redis.call('ZRANGE', SKIP, 0, limit - released - 1)) do
    release(user)
  end
end
return released
