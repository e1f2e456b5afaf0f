-- One slice of the Gram matrix of N raw float32 tensors (Redis strings): the inner products
-- <x_i, x_j> (i <= j) over floats [offset, offset + count), summed in double precision.
-- KEYS[1..N] = tensors (all the same byte length)
-- ARGV[1] = first float index of the slice, ARGV[2] = number of floats, ARGV[3] = expected byte length
-- Returns the N(N+1)/2 partial sums, row by row (i = 1..N, j = i..N), as strings ("%.17g": no precision
-- lost on the way to the client, which adds the slices up). NaN/Inf in a tensor shows up as nan/inf here.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local expected = tonumber(ARGV[3])
local n = #KEYS
if n < 1 then
  return redis.error_reply('ERR SPIRT: gram needs at least one tensor')
end
for i = 1, n do
  local len = redis.call('STRLEN', KEYS[i])
  if len ~= expected then
    return redis.error_reply('ERR SPIRT: tensor ' .. KEYS[i] .. ' has ' .. len .. ' bytes, expected ' .. expected)
  end
end
if offset * 4 + count * 4 > expected then
  return redis.error_reply('ERR SPIRT: slice out of range')
end

local CHUNK = 4000
local sums = {}
for p = 1, n * (n + 1) / 2 do sums[p] = 0 end
local done = 0
while done < count do
  local m = math.min(CHUNK, count - done)
  local fmt = '<' .. string.rep('f', m)
  local startByte = (offset + done) * 4
  local values = {}
  for i = 1, n do
    values[i] = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[i], startByte, startByte + m * 4 - 1)) }
  end
  local p = 1
  for i = 1, n do
    local a = values[i]
    for j = i, n do
      local b = values[j]
      local s = 0
      for k = 1, m do s = s + a[k] * b[k] end
      sums[p] = sums[p] + s
      p = p + 1
    end
  end
  done = done + m
end
local out = {}
for p = 1, #sums do out[p] = string.format('%.17g', sums[p]) end
return out
