-- issue(user, new token id, opens_at ms or '', skip the line (0/1), pre-queue key) ->
--   {issued (1) or existing (0), token_id, seq, issued_at_ms}
-- The existing place of the user (which counts as a poll), or a new one. Before the opening:
-- in the pre-queue, scored by the key (or in skip, to be let in first at the opening). Once
-- open: a buyer who skips the line is let in at once; anyone else is active at once when
-- nobody waits and the room and the rate allow, else at the back of the line.
local user, new_token = ARGV[9], ARGV[10]
local skip, key = ARGV[12] == '1', tonumber(ARGV[13])
redis.call('SADD', LINES, schedule)
end_timed_out(100)
learn_opening(tonumber(ARGV[11]))
open_if_due()

local session = live_session(user)
if session then
  seen_active(user)
  local seq, token, issued = entry_fields(session)
  return {0, token, seq, issued}
end

local waiter = redis.call('HGET', WAITERS, user)
if waiter then
  if is_idle(user) then
    drop_waiter(user)
    redis.call('HINCRBY', META, 'left_idle', 1)
  else
    redis.call('ZADD', SEEN, int(now), user)
    local seq, token, issued = entry_fields(waiter)
    if skip then
      -- Joining again with a presale code.
      if pending() then
        redis.call('ZREM', WAITING, user)
        redis.call('ZADD', SKIP, int(seq), user)
      else
        drop_waiter(user)
        admit_skipping(user, waiter)
      end
    end
    return {0, token, seq, issued}
  end
end

local seq = redis.call('HINCRBY', META, 'next_seq', 1)
local entry = int(seq) .. ' ' .. new_token .. ' ' .. int(now)
if pending() then
  if skip then
    redis.call('ZADD', SKIP, int(seq), user)
  else
    redis.call('ZADD', WAITING, int(key), user)
  end
  redis.call('HSET', WAITERS, user, entry)
  redis.call('ZADD', SEEN, int(now), user)
  return {1, new_token, seq, now}
end
if skip then
  admit_skipping(user, entry)
  return {1, new_token, seq, now}
end
local units = refill(admit_rate())
local room = math.min(max_active() - active_count(), math.floor(units / UNITS), 1)
if redis.call('ZCARD', WAITING) == 0 and room >= 1 then
  take(units, 1)
  record_admissions(1)
  redis.call('HINCRBY', META, 'arrivals', 1)
  activate(user, entry)
else
  redis.call('ZADD', WAITING, int(AFTER_OPENING + seq), user)
  redis.call('HSET', WAITERS, user, entry)
  redis.call('ZADD', SEEN, int(now), user)
end
return {1, new_token, seq, now}
