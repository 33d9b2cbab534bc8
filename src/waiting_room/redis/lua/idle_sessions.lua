-- idle_sessions(session idle TTL ms, most to report) ->
--   {user, "seq token_id issued_at_ms", ...} of each active buyer not seen for the TTL
-- Ends nothing idle (the caller first leaves out buyers who hold seats); sessions past their
-- expiry end here, as everywhere.
local session_idle_ttl, limit = tonumber(ARGV[9]), tonumber(ARGV[10])
end_timed_out(100)
local quiet = redis.call('ZRANGEBYSCORE', ACTIVE_SEEN, '-inf', int(now - session_idle_ttl),
  'LIMIT', 0, limit)
local result = {}
for _, user in ipairs(quiet) do
  local entry = live_session(user)
  if entry then
    result[#result + 1] = user
    result[#result + 1] = entry
  else
    redis.call('ZREM', ACTIVE_SEEN, user)
  end
end
return result
