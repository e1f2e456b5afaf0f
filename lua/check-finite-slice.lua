-- Scans one slice of raw float32 tensors (Redis strings) for NaN or +-Inf, read only.
-- KEYS = tensors to scan; ARGV[1] = first float index, ARGV[2] = floats in this slice.
-- Returns 0 when all are finite, else {key number (1-based), float index} of the first bad value.
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
if not (offset and count) then return redis.error_reply('ERR SPIRT: bad numeric argument') end
local CHUNK = 4000
for k = 1, #KEYS do
  local done = 0
  while done < count do
    local m = math.min(CHUNK, count - done)
    local s = (offset + done) * 4
    local bytes = redis.call('GETRANGE', KEYS[k], s, s + m * 4 - 1)
    if #bytes ~= m * 4 then return redis.error_reply('ERR SPIRT: key ' .. KEYS[k] .. ' is shorter than the slice') end
    local v = { struct.unpack('<' .. string.rep('f', m), bytes) }
    for j = 1, m do
      local x = v[j]
      if x ~= x or x == math.huge or x == -math.huge then return { k, offset + done + j - 1 } end
    end
    done = done + m
  end
end
return 0
