-- admit(most sessions to time out, most idle buyers to drop, sold out (0/1)) ->
--   {left_idle, admitted_on_arrival, sessions_idled, issued_at_ms of each buyer let in, in
--   order}
-- One admission tick of one line: ends timed-out sessions, drops idle waiting buyers, then
-- lets buyers in from the front while there is room under max_active and the bucket allows;
-- before the opening nobody, at it the pre-queue's buyers who skip the line first; nobody
-- while the show is sold out.
local expire_limit, idle_limit = tonumber(ARGV[9]), tonumber(ARGV[10])
local sold_out = ARGV[11] == '1'
end_timed_out(expire_limit)
open_if_due()

local left_idle = field(META, 'left_idle') or 0
local idle = redis.call('ZRANGEBYSCORE', SEEN, '-inf', int(now - idle_ttl), 'LIMIT', 0, idle_limit)
for _, user in ipairs(idle) do
  drop_waiter(user)
end
left_idle = left_idle + #idle

local units = refill(admit_rate())
local due = math.min(max_active() - active_count(), math.floor(units / UNITS),
  redis.call('ZCARD', WAITING))
if pending() or sold_out then
  due = 0
end
local result = {0, 0, 0}
local admitted = 0
while admitted < due do
  local front = redis.call('ZPOPMIN', WAITING)
  if #front == 0 then
    break
  end
  local user = front[1]
  local entry = redis.call('HGET', WAITERS, user)
  local gone = is_idle(user)
  redis.call('HDEL', WAITERS, user)
  redis.call('ZREM', SEEN, user)
  if entry and not gone then
    activate(user, entry)
    admitted = admitted + 1
    local _, _, issued = entry_fields(entry)
    result[#result + 1] = issued or now
  else
    left_idle = left_idle + 1
  end
end
take(units, admitted)
record_admissions(admitted)
last_minute(true)

result[1] = left_idle
result[2] = field(META, 'arrivals') or 0
result[3] = field(META, 'sessions_idled') or 0
redis.call('HDEL', META, 'left_idle', 'arrivals', 'sessions_idled')
return result
