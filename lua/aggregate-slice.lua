-- One slice of a per-coordinate robust aggregate of N raw float32 tensors (Redis strings) into a
-- destination string, for servers without the spirt module. Computed in Lua doubles, stored as
-- float32; same definitions as SPIRT.AGGREGATE (docs/commands.md).
-- KEYS[1] = destination, KEYS[2..N+1] = sources (same byte length)
-- ARGV[1] = first float index, ARGV[2] = floats in this slice, ARGV[3] = byte length of every source,
-- ARGV[4] = rule: mean | median | trimmedMean | meamed, ARGV[5] = f (trimmedMean, meamed)
-- Returns the number of floats written.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local expected = tonumber(ARGV[3])
local rule = ARGV[4]
local f = tonumber(ARGV[5] or '0')
local n = #KEYS - 1
if n < 1 then return redis.error_reply('ERR SPIRT: aggregate needs at least one source') end
if not (offset and count and expected and f) then return redis.error_reply('ERR SPIRT: bad numeric argument') end
if (rule == 'trimmedMean' or rule == 'meamed') and 2 * f >= n then
  return redis.error_reply('ERR SPIRT: f=' .. f .. ' needs more than ' .. (2 * f) .. ' sources (2f < n)')
end
if rule ~= 'mean' and rule ~= 'median' and rule ~= 'trimmedMean' and rule ~= 'meamed' then
  return redis.error_reply('ERR SPIRT: unknown rule')
end
for i = 2, #KEYS do
  local len = redis.call('STRLEN', KEYS[i])
  if len ~= expected then
    return redis.error_reply('ERR SPIRT: source ' .. KEYS[i] .. ' has ' .. len .. ' bytes, expected ' .. expected)
  end
end
if offset < 0 or count < 1 or (offset + count) * 4 > expected then
  return redis.error_reply('ERR SPIRT: slice out of range')
end

local function median(v)
  if n % 2 == 1 then return v[(n + 1) / 2] end
  return (v[n / 2] + v[n / 2 + 1]) * 0.5
end

local function meanOf(v, first, cnt)
  local s = v[first]
  for i = first + 1, first + cnt - 1 do s = s + v[i] end
  return s / cnt
end

local function one(v)
  if rule == 'mean' then return meanOf(v, 1, n) end
  table.sort(v)
  if rule == 'median' then return median(v) end
  if rule == 'trimmedMean' then return meanOf(v, f + 1, n - 2 * f) end
  -- meamed: grow a window from the middle, nearer neighbour first, ties take the lower value
  local m = median(v)
  local want = n - f
  local lo = math.floor((n - 1) / 2) + 1 -- 1-based
  local hi = lo + 1
  local first = lo + 1
  local loOpen = true
  for _ = 1, want do
    local takeLow
    if not loOpen then takeLow = false
    elseif hi > n then takeLow = true
    else takeLow = (m - v[lo]) <= (v[hi] - m) end
    if takeLow then
      first = lo
      if lo == 1 then loOpen = false else lo = lo - 1 end
    else
      hi = hi + 1
    end
  end
  return meanOf(v, first, want)
end

local CHUNK = 4000
local parts = {}
local done = 0
while done < count do
  local m = math.min(CHUNK, count - done)
  local fmt = '<' .. string.rep('f', m)
  local s = (offset + done) * 4
  local cols = {}
  for i = 2, #KEYS do
    cols[i - 1] = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[i], s, s + m * 4 - 1)) }
  end
  local out = {}
  local v = {}
  for j = 1, m do
    for i = 1, n do v[i] = cols[i][j] end
    out[j] = one(v)
  end
  parts[#parts + 1] = struct.pack(fmt, unpack(out, 1, m))
  done = done + m
end
redis.call('SETRANGE', KEYS[1], offset * 4, table.concat(parts))
return count
