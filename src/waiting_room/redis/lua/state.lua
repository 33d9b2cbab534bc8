-- state(user, seq, token_id, issued_at_ms) ->
--   {1, expires_at} active | waiting_state() | {3, ended_at} ended | {4, opens_at} in the
--   pre-queue | {5, closed_at} released when the line closed | {0} unknown
-- For a waiting buyer this is the poll that keeps the place; one polling too late is dropped.
-- For an active buyer it is a request: the session is not idle.
local user = ARGV[9]
local entry = ARGV[10] .. ' ' .. ARGV[11] .. ' ' .. ARGV[12]
end_timed_out(100)
open_if_due()

local session, expires_at = live_session(user)
if session == entry then
  seen_active(user)
  return {1, expires_at}
end

if redis.call('HGET', WAITERS, user) == entry then
  if is_idle(user) then
    drop_waiter(user)
    redis.call('HINCRBY', META, 'left_idle', 1)
    return {0}
  end
  redis.call('ZADD', SEEN, int(now), user)
  if pending() then
    return {4, opens_at()}
  end
  return waiting_state(user)
end

local ended = redis.call('GET', ended_prefix .. ARGV[11])
if ended then
  local head = user .. ' ' .. entry .. ' '
  if string.sub(ended, 1, #head) == head then
    local at, tail = string.match(string.sub(ended, #head + 1), '^(%-?%d+)(.*)$')
    local ended_at = tonumber(at or '')
    if ended_at and now < ended_at + ended_ttl then
      if tail == ' closed' then
        return {5, ended_at}
      end
      return {3, ended_at}
    end
  end
end
return {0}
