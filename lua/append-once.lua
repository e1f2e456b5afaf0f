-- Appends a message pumped from a queue to its stream once: the first copy of message id ARGV[1] sets the
-- dedup key and is appended; later copies (an at-least-once queue redelivers) change nothing. Atomic, so a
-- pump that dies between the two steps cannot lose or double a message.
-- KEYS[1] dedup key, KEYS[2] stream; ARGV[1] dedup TTL seconds, ARGV[2] stream MAXLEN (~), ARGV[3..] fields.
-- Returns the new entry id, or false for a duplicate.
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return false
end
return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
