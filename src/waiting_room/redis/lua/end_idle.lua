-- end_idle(session idle TTL ms, then user, seq, token_id, issued_at_ms of each session) ->
--   how many ended
-- Ends each session that is still that token's and still idle (a request since it was
-- found idle keeps it), as a payment would, and counts it for the next admission tick.
local session_idle_ttl = tonumber(ARGV[9])
end_timed_out(100)
local ended = 0
for i = 10, #ARGV - 3, 4 do
  local user = ARGV[i]
  local entry = ARGV[i + 1] .. ' ' .. ARGV[i + 2] .. ' ' .. ARGV[i + 3]
  local seen = tonumber(redis.call('ZSCORE', ACTIVE_SEEN, user) or '')
  if seen and seen + session_idle_ttl <= now and live_session(user) == entry then
    end_session(user, entry, now)
    ended = ended + 1
  end
end
if ended > 0 then
  redis.call('HINCRBY', META, 'sessions_idled', ended)
end
return ended
