-- One slice of a weighted sum of N raw float32 tensors into a destination string:
-- dst[k] = sum_i w_i * x_i[k] for k in [offset, offset + count), in double precision, stored as float32.
-- KEYS[1] = destination, KEYS[2..N+1] = sources (all the same byte length)
-- ARGV[1] = first float index, ARGV[2] = number of floats, ARGV[3] = expected byte length,
-- ARGV[4..N+3] = the weights. A source with weight 0 is not read.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local expected = tonumber(ARGV[3])
local n = #KEYS - 1
if n < 1 or #ARGV ~= n + 3 then
  return redis.error_reply('ERR SPIRT: wsum needs one weight per source')
end
local weights = {}
for i = 1, n do
  weights[i] = tonumber(ARGV[i + 3])
  if weights[i] == nil or weights[i] ~= weights[i] or weights[i] == math.huge or weights[i] == -math.huge then
    return redis.error_reply('ERR SPIRT: weight ' .. i .. ' is not a finite number')
  end
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

local CHUNK = 4000
local parts = {}
local done = 0
while done < count do
  local m = math.min(CHUNK, count - done)
  local fmt = '<' .. string.rep('f', m)
  local startByte = (offset + done) * 4
  local sums = {}
  for j = 1, m do sums[j] = 0 end
  for i = 1, n do
    local w = weights[i]
    if w ~= 0 then
      local values = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[i + 1], startByte, startByte + m * 4 - 1)) }
      for j = 1, m do sums[j] = sums[j] + w * values[j] end
    end
  end
  parts[#parts + 1] = struct.pack(fmt, unpack(sums))
  done = done + m
end
redis.call('SETRANGE', KEYS[1], offset * 4, table.concat(parts))
return count
