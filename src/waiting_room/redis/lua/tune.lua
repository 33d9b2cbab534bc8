-- tune(max_active, admit_per_minute, paused: each '' to leave it) -> 1
-- What accrued at the old rate stays; the new rate applies from now.
redis.call('SADD', LINES, schedule)
refill(admit_rate())
if ARGV[9] ~= '' then
  redis.call('HSET', META, 'max_active', ARGV[9])
end
if ARGV[10] ~= '' then
  redis.call('HSET', META, 'admit_per_minute', ARGV[10])
end
if ARGV[11] ~= '' then
  redis.call('HSET', META, 'paused', ARGV[11])
end
local units = field(META, 'units') or 0
local cap = capacity(admit_rate())
if units > cap then
  redis.call('HSET', META, 'units', int(cap))
end
return 1
