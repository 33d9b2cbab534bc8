-- Shared by every script of the Redis waiting room; each script is this text followed by its
-- own body, so one EVALSHA runs the whole operation atomically.
--
-- One line (schedule) is these keys, always passed in this order:
--   meta     hash: next_seq, units + refilled_at (the rate bucket), first_admit_ms,
--                  max_active / admit_per_minute / paused (knobs tuned at run time),
--                  arrivals / left_idle / sessions_idled (counts since the last
--                  admission tick)
--   waiting  zset: user -> seq, the line itself; ZRANK is the position - 1
--   waiters  hash: user -> "seq token_id issued_at_ms" of each waiting buyer
--   seen     zset: user -> last poll (ms) of each waiting buyer
--   active   zset: user -> session expiry (ms)
--   sessions hash: user -> "seq token_id issued_at_ms" of each active buyer
--   rate     hash: second since the epoch -> admissions in it (the last minute)
--   lines    set:  every schedule that has a line (shared by all lines)
--   skip     zset: user -> seq of each buyer in the pre-queue who skips the line (a presale
--                  code); they are in waiters and seen too, but not in waiting
--   active_seen zset: user -> last request (ms) of each active buyer; a session with no
--                  entry (started by a version without it) is never found idle
--
-- The pre-queue: meta's opens_at is the line's opening as a join last told it (once passed
-- the line stays open). Until then nobody is let in, and a buyer who joins is scored in
-- waiting by a random key below 2^52 drawn at joining (the Rust side draws it from the OS
-- CSPRNG); whoever joins when the line is open is scored 2^52 + seq, so the pre-queue is the
-- front of the line in key order and later arrivals follow in arrival order. The order is in
-- the scores, so it is decided once, whichever instance asks and after any restart.
-- Ended tokens are string keys `<ended prefix><token_id>` = "user seq token_id issued_at_ms
-- ended_at_ms", expiring after the ended-token TTL; " closed" follows for a waiting buyer
-- released when the line closed.
--
-- ARGV[1..8]: now (ms), the ended prefix, session TTL, idle TTL and ended-token TTL (ms), the
-- default max_active and admit_per_minute, the schedule id. The script's own arguments follow.
--
-- Numbers are Lua doubles: every integer here stays below 2^53 (the Rust side clamps the
-- knobs), and `int` writes them without an exponent.

local META, WAITING, WAITERS, SEEN = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ACTIVE, SESSIONS, RATE, LINES = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local SKIP, ACTIVE_SEEN = KEYS[9], KEYS[10]
local now = tonumber(ARGV[1])
local ended_prefix = ARGV[2]
local session_ttl = tonumber(ARGV[3])
local idle_ttl = tonumber(ARGV[4])
local ended_ttl = tonumber(ARGV[5])
local default_max_active = tonumber(ARGV[6])
local default_rate = tonumber(ARGV[7])
local schedule = ARGV[8]

-- The bucket counts 1/60,000ths of an admission, so admit_per_minute units accrue per ms.
local UNITS = 60000

-- Scores of buyers who joined when the line was open start here (2^52).
local AFTER_OPENING = 4503599627370496

local function int(n)
  return string.format('%.0f', n)
end

local function field(key, name)
  return tonumber(redis.call('HGET', key, name) or '')
end

local function entry_fields(entry)
  local seq, token, issued = string.match(entry, '^(%d+) (%d+) (%-?%d+)$')
  return tonumber(seq), token, tonumber(issued)
end

local function max_active()
  return field(META, 'max_active') or default_max_active
end

local function configured_rate()
  return field(META, 'admit_per_minute') or default_rate
end

local function paused()
  return redis.call('HGET', META, 'paused') == '1'
end

-- Admissions per minute in force: zero while paused.
local function admit_rate()
  if paused() then
    return 0
  end
  return configured_rate()
end

-- Sessions whose expiry is after now.
local function active_count()
  return redis.call('ZCOUNT', ACTIVE, '(' .. int(now), '+inf')
end

local function record_ended(user, entry, ended_at, suffix)
  local _, token = entry_fields(entry)
  if not token then
    return
  end
  redis.call('SET', ended_prefix .. token,
    user .. ' ' .. entry .. ' ' .. int(ended_at) .. (suffix or ''),
    'PX', int(math.max(ended_ttl, 1)))
end

local function end_session(user, entry, ended_at)
  redis.call('ZREM', ACTIVE, user)
  redis.call('ZREM', ACTIVE_SEEN, user)
  redis.call('HDEL', SESSIONS, user)
  record_ended(user, entry, ended_at)
end

-- Sessions whose time is up end at their expiry, at most `limit` per call; the counts never
-- include the rest (`active_count` looks at the expiry), so a limit only defers the tidying.
local function end_timed_out(limit)
  local due = redis.call('ZRANGEBYSCORE', ACTIVE, '-inf', int(now), 'WITHSCORES',
    'LIMIT', 0, limit)
  for i = 1, #due, 2 do
    local user = due[i]
    local entry = redis.call('HGET', SESSIONS, user)
    if entry then
      end_session(user, entry, tonumber(due[i + 1]))
    else
      redis.call('ZREM', ACTIVE, user)
      redis.call('ZREM', ACTIVE_SEEN, user)
    end
  end
end

-- The user's session entry and expiry while it lasts; a session past its expiry ends here.
local function live_session(user)
  local entry = redis.call('HGET', SESSIONS, user)
  if not entry then
    return nil
  end
  local expires_at = tonumber(redis.call('ZSCORE', ACTIVE, user) or '')
  if expires_at and expires_at > now then
    return entry, expires_at
  end
  end_session(user, entry, expires_at or now)
  return nil
end

local function activate(user, entry)
  redis.call('ZADD', ACTIVE, int(now + session_ttl), user)
  redis.call('ZADD', ACTIVE_SEEN, int(now), user)
  redis.call('HSET', SESSIONS, user, entry)
end

-- A request of an active buyer: the session is not idle.
local function seen_active(user)
  redis.call('ZADD', ACTIVE_SEEN, 'XX', int(now), user)
end

local function drop_waiter(user)
  redis.call('ZREM', WAITING, user)
  redis.call('ZREM', SKIP, user)
  redis.call('ZREM', SEEN, user)
  redis.call('HDEL', WAITERS, user)
end

local function is_idle(user)
  local seen = tonumber(redis.call('ZSCORE', SEEN, user) or '')
  return (not seen) or seen + idle_ttl <= now
end

-- One second's worth, but at least one admission; nothing when the rate is zero.
local function capacity(rate)
  if rate <= 0 then
    return 0
  end
  return math.max(rate * 1000, UNITS)
end

-- Refills the bucket by the time elapsed since the last refill and returns its units. A new
-- line starts full; a clock that steps back refills nothing.
local function refill(rate)
  local units, at = field(META, 'units'), field(META, 'refilled_at')
  if not units or not at then
    units, at = capacity(rate), now
  elseif now >= at then
    units = math.min(units + (now - at) * rate, capacity(rate))
    at = now
  end
  redis.call('HSET', META, 'units', int(units), 'refilled_at', int(at))
  return units
end

local function take(units, admissions)
  redis.call('HSET', META, 'units', int(math.max(units - admissions * UNITS, 0)))
end

local function record_admissions(n)
  if n <= 0 then
    return
  end
  redis.call('HSETNX', META, 'first_admit_ms', int(now))
  redis.call('HINCRBY', RATE, int(math.floor(now / 1000)), n)
end

-- Admissions over the last 60 seconds; `trim` forgets the older ones.
local function last_minute(trim)
  local cutoff = math.floor(now / 1000) - 60
  local all = redis.call('HGETALL', RATE)
  local sum = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) < cutoff then
      if trim then
        redis.call('HDEL', RATE, all[i])
      end
    else
      sum = sum + tonumber(all[i + 1])
    end
  end
  return sum
end

local function opens_at()
  return field(META, 'opens_at')
end

-- Whether the opening is still ahead: nobody is let in.
local function pending()
  local at = opens_at()
  return at ~= nil and now < at
end

-- Takes the opening a join names, unless the line has opened already.
local function learn_opening(at)
  if not at then
    return
  end
  local current = opens_at()
  if current and current <= now then
    return
  end
  redis.call('HSET', META, 'opens_at', int(at))
end

-- Lets a buyer in at once, whatever the room, the rate or a pause (a presale code).
local function admit_skipping(user, entry)
  activate(user, entry)
  record_admissions(1)
  redis.call('HINCRBY', META, 'arrivals', 1)
end

-- At the opening, the buyers of the pre-queue who skip the line are let in; the others hold
-- their places in waiting already.
local function open_if_due()
  if pending() or redis.call('ZCARD', SKIP) == 0 then
    return
  end
  local skipping = redis.call('ZRANGE', SKIP, 0, -1)
  redis.call('DEL', SKIP)
  for _, user in ipairs(skipping) do
    local entry = redis.call('HGET', WAITERS, user)
    if entry then
      local gone = is_idle(user)
      drop_waiter(user)
      if gone then
        redis.call('HINCRBY', META, 'left_idle', 1)
      else
        admit_skipping(user, entry)
      end
    end
  end
end

-- What a waiting buyer's estimate needs: {position, admitted last minute, has first
-- admission (0/1), first admission ms, configured rate, paused (0/1)}.
local function waiting_state(user)
  local rank = redis.call('ZRANK', WAITING, user)
  local first = field(META, 'first_admit_ms')
  return {2, rank + 1, last_minute(false), first and 1 or 0, first or 0, configured_rate(),
    paused() and 1 or 0}
end
