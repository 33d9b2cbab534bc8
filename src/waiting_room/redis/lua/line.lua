-- line() -> {waiting, active, max_active, admit_per_minute, paused (0/1), admitted last
--   minute, someone waits (0/1), issued_at_ms of the buyer at the front}
-- Reads only.
local front = redis.call('ZRANGE', WAITING, 0, 0)
local issued = 0
if front[1] then
  local entry = redis.call('HGET', WAITERS, front[1])
  if entry then
    local _, _, at = entry_fields(entry)
    issued = at or now
  end
end
return {redis.call('ZCARD', WAITING) + redis.call('ZCARD', SKIP), active_count(), max_active(), configured_rate(),
  paused() and 1 or 0, last_minute(false), front[1] and 1 or 0, issued}
