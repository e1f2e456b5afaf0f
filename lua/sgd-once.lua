-- SPIRT.SGD (the spirt module) applied once per training step, atomically with its applied-step marker: a
-- step at or before the marker changes nothing; otherwise the update runs and the marker becomes this step.
-- A worker killed anywhere around the update therefore never applies a step twice, and the check, the update
-- and the marker cost one round trip. Inside a script the module runs the update inline, in one go.
-- KEYS[1] applied-step marker ("epoch:step"), KEYS[2] params, KEYS[3] gradient, KEYS[4] momentum buffer (when
-- the options name one); ARGV[1] epoch, ARGV[2] step, ARGV[3..] the SPIRT.SGD options after the gradient.
-- Returns 1 when it applied the update now, 0 when the marker says it was applied already.
local marker = redis.call('GET', KEYS[1])
if marker then
  local e, s = string.match(marker, '^(%d+):(%d+)$')
  if e then
    e, s = tonumber(e), tonumber(s)
    local epoch, step = tonumber(ARGV[1]), tonumber(ARGV[2])
    if e > epoch or (e == epoch and s >= step) then
      return 0
    end
  end
end
redis.call('SPIRT.SGD', KEYS[2], KEYS[3], unpack(ARGV, 3))
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
return 1
