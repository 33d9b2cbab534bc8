-- end_session(user, seq, token_id, issued_at_ms) -> 1 session ended | 2 left the line | 0
-- Ends the token's session (or its place in line) and remembers the token as ended.
local user = ARGV[9]
local entry = ARGV[10] .. ' ' .. ARGV[11] .. ' ' .. ARGV[12]
end_timed_out(100)
open_if_due()

if live_session(user) == entry then
  end_session(user, entry, now)
  return 1
end
if redis.call('HGET', WAITERS, user) == entry then
  drop_waiter(user)
  record_ended(user, entry, now)
  return 2
end
return 0
