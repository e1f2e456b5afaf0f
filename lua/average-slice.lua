-- Averages one slice of N raw float32 tensors (Redis strings) into a destination string.
-- KEYS[1] = destination, KEYS[2..N+1] = sources (all the same byte length)
-- ARGV[1] = first float index of the slice, ARGV[2] = number of floats in the slice,
-- ARGV[3] = expected byte length of every source
-- Called repeatedly by the client over consecutive slices so that no single call blocks the
-- server for long. Returns the number of floats written.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local expected = tonumber(ARGV[3])
local n = #KEYS - 1
if n < 1 then
  return redis.error_reply('ERR SPIRT: average needs at least one source')
end
for i = 2, #KEYS do
  local len = redis.call('STRLEN', KEYS[i])
  if len ~= expected then
    return redis.error_reply('ERR SPIRT: source ' .. KEYS[i] .. ' has ' .. len .. ' bytes, expected ' .. expected)
  end
end
if offset * 4 + count * 4 > expected then
  return redis.error_reply('ERR SPIRT: slice out of range')
end

-- struct.unpack returns every value on the Lua stack, so work in chunks well under its limit.
local CHUNK = 4000
local parts = {}
local done = 0
while done < count do
  local m = math.min(CHUNK, count - done)
  local fmt = '<' .. string.rep('f', m)
  local startByte = (offset + done) * 4
  local sums = {}
  for i = 2, #KEYS do
    local bytes = redis.call('GETRANGE', KEYS[i], startByte, startByte + m * 4 - 1)
    local values = { struct.unpack(fmt, bytes) }
    if i == 2 then
      for j = 1, m do sums[j] = values[j] end
    else
      for j = 1, m do sums[j] = sums[j] + values[j] end
    end
  end
  for j = 1, m do sums[j] = sums[j] / n end
  parts[#parts + 1] = struct.pack(fmt, unpack(sums))
  done = done + m
end
redis.call('SETRANGE', KEYS[1], offset * 4, table.concat(parts))
return count
