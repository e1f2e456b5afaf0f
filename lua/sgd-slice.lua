-- One slice of an in-place SGD update on raw float32 tensors (Redis strings), for servers
-- without the spirt module. PyTorch semantics (dampening 0), computed in Lua doubles and stored
-- as float32:
--   d = g + wd * p (when wd ~= 0); b = init and d or mu * b + d; d = nesterov and d + mu * b or b
--   p = p - lr * d
-- KEYS[1] = params, KEYS[2] = grad, KEYS[3] = momentum buffer (optional)
-- ARGV[1] = first float index, ARGV[2] = floats in this slice, ARGV[3] = byte length of params,
-- ARGV[4] = lr, ARGV[5] = momentum, ARGV[6] = weight decay, ARGV[7] = nesterov (0/1),
-- ARGV[8] = init (1 when the buffer did not exist before the first slice)
-- Returns the number of floats updated.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local expected = tonumber(ARGV[3])
local lr = tonumber(ARGV[4])
local mu = tonumber(ARGV[5])
local wd = tonumber(ARGV[6])
local nesterov = ARGV[7] == '1'
local init = ARGV[8] == '1'
local hasBuf = #KEYS >= 3
if not (offset and count and expected and lr and mu and wd) then
  return redis.error_reply('ERR SPIRT: bad numeric argument')
end
for i = 1, 2 do
  local len = redis.call('STRLEN', KEYS[i])
  if len ~= expected then
    return redis.error_reply('ERR SPIRT: key ' .. KEYS[i] .. ' has ' .. len .. ' bytes, expected ' .. expected)
  end
end
if hasBuf and not init then
  local len = redis.call('STRLEN', KEYS[3])
  if len ~= expected then
    return redis.error_reply('ERR SPIRT: key ' .. KEYS[3] .. ' has ' .. len .. ' bytes, expected ' .. expected)
  end
end
if offset < 0 or count < 1 or (offset + count) * 4 > expected then
  return redis.error_reply('ERR SPIRT: slice out of range')
end

local CHUNK = 4000 -- struct.unpack puts every value on the Lua stack
local pParts, bParts = {}, {}
local done = 0
while done < count do
  local m = math.min(CHUNK, count - done)
  local fmt = '<' .. string.rep('f', m)
  local s = (offset + done) * 4
  local e = s + m * 4 - 1
  local p = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[1], s, e)) }
  local g = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[2], s, e)) }
  local b
  if hasBuf and not init then
    b = { struct.unpack(fmt, redis.call('GETRANGE', KEYS[3], s, e)) }
  else
    b = {}
  end
  for j = 1, m do
    local d = g[j]
    if wd ~= 0 then d = d + wd * p[j] end
    if hasBuf then
      local bj
      if init then bj = d else bj = mu * b[j] + d end
      b[j] = bj
      if nesterov then d = d + mu * bj else d = bj end
    end
    p[j] = p[j] - lr * d
  end
  pParts[#pParts + 1] = struct.pack(fmt, unpack(p, 1, m))
  if hasBuf then bParts[#bParts + 1] = struct.pack(fmt, unpack(b, 1, m)) end
  done = done + m
end
redis.call('SETRANGE', KEYS[1], offset * 4, table.concat(pParts))
if hasBuf then redis.call('SETRANGE', KEYS[3], offset * 4, table.concat(bParts)) end
return count
