"""The Lua scripts behind `RedisStore`: each is one atomic step and one round trip.

Each script's comment says what KEYS and ARGV it takes. Values arrive already encoded by
`codec`, so a script never formats JSON itself: where it rewrites a record it swaps one exact
`"field":value` text for another (`codec.readdress` does the same for SQLite).
"""

from __future__ import annotations

# KEYS: seen, feed_state, outbox_due, outbox_data, outbox_seq, seen_index, links_index,
#       digest_index, then the link and digest keys the alerts name by index.
# ARGV: now, expires, state_json, key_count, keys..., then 5 a alert:
#       item_key, link_key_index, link, digest_key_index (0: outbox), payload.
# Alerts are judged against the seen set as it was before this call; keys are marked after.
COMMIT = """
local now, expires = tonumber(ARGV[1]), ARGV[2]
local key_count = tonumber(ARGV[4])
local first = 5 + key_count
local enqueued = {}
for i = first, #ARGV, 5 do
  local seen = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not (seen and tonumber(seen) > now) then
    local links, link = KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2]
    local linked = redis.call('ZSCORE', links, link)
    if not (linked and tonumber(linked) > now) then
      redis.call('ZADD', links, expires, link)
      redis.call('SADD', KEYS[7], links)
      local target = tonumber(ARGV[i + 3])
      if target == 0 then
        local id = string.format('%016d', redis.call('INCR', KEYS[5]))
        redis.call('ZADD', KEYS[3], ARGV[1], id)
        redis.call('HSET', KEYS[4], id, ARGV[i + 4])
      else
        redis.call('RPUSH', KEYS[target], ARGV[i + 4])
        redis.call('SADD', KEYS[8], KEYS[target])
      end
      enqueued[#enqueued + 1] = (i - first) / 5
    end
  end
end
for j = 5, 4 + key_count, 500 do
  local batch = {}
  for k = j, math.min(j + 499, 4 + key_count) do
    batch[#batch + 1] = expires
    batch[#batch + 1] = ARGV[k]
  end
  redis.call('ZADD', KEYS[1], unpack(batch))
end
if key_count > 0 then redis.call('SADD', KEYS[6], KEYS[1]) end
redis.call('SET', KEYS[2], ARGV[3])
return enqueued
"""

# KEYS: due, data, attempts, errors. ARGV: now, hidden_until, limit, the "sending" mark.
# Returns id, payload, attempts... for each entry claimed.
CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, id in ipairs(ids) do
  local payload = redis.call('HGET', KEYS[2], id)
  if payload then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', KEYS[4], id, ARGV[4])
    out[#out + 1] = id
    out[#out + 1] = payload
    out[#out + 1] = redis.call('HGET', KEYS[3], id) or '0'
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

# KEYS: due, data, errors. ARGV: now, the `"to":...` text, then the hold reasons. Entries for
# that destination held for one of the reasons and due later are made due now; returns how many.
RELEASE = """
local n = 0
local reasons = {}
for i = 3, #ARGV do reasons[ARGV[i]] = true end
local now = tonumber(ARGV[1])
local flat = redis.call('HGETALL', KEYS[3])
for i = 1, #flat, 2 do
  local id, reason = flat[i], flat[i + 1]
  if reasons[reason] then
    local due = redis.call('ZSCORE', KEYS[1], id)
    local text = redis.call('HGET', KEYS[2], id)
    if due and text and tonumber(due) > now and string.find(text, ARGV[2], 1, true) then
      redis.call('ZADD', KEYS[1], ARGV[1], id)
      n = n + 1
    end
  end
end
return n
"""

# KEYS: due. ARGV: until, then pairs of id and the lease end its claimer holds. An entry
# whose due time is still that lease end is renewed to `until`; the ids renewed are returned.
EXTEND = """
local out = {}
for i = 2, #ARGV, 2 do
  local due = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if due and tonumber(due) == tonumber(ARGV[i + 1]) then
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
return out
"""

# KEYS: due, data, attempts, errors. ARGV: id, not_before, error, 1 to count an attempt or 0.
# An acked entry stays gone.
RETRY = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[3], ARGV[1], tonumber(ARGV[4]))
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return 1
"""

# KEYS: records' expiry set, records hash. ARGV: now. Forgets the records due by now.
PURGE_RECORDS = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, name in ipairs(due) do
  redis.call('HDEL', KEYS[2], name)
  redis.call('ZREM', KEYS[1], name)
end
return #due
"""

# KEYS: index, then sorted sets scored by expiry. ARGV: now. Empty sets leave the index.
PURGE = """
local n = 0
for i = 2, #KEYS do
  n = n + redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  if redis.call('EXISTS', KEYS[i]) == 0 then redis.call('SREM', KEYS[1], KEYS[i]) end
end
return n
"""

# KEYS: lock. ARGV: owner, now, expires, ttl_ms. Expiry is judged by the caller's clock; the
# PEXPIRE only lets Redis drop a lock its holder forgot.
LOCK = """
local held = redis.call('HMGET', KEYS[1], 'owner', 'expires')
if held[1] and held[1] ~= ARGV[1] and tonumber(held[2]) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

UNLOCK = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


# KEYS: digest, digest_index. ARGV: count. A buffer trimmed empty leaves the index.
DROP_DIGEST = """
redis.call('LTRIM', KEYS[1], ARGV[1], -1)
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], KEYS[1]) end
"""

# KEYS: feeds, feeds_order, feeds_seq. ARGV: id, feed JSON. A new feed goes last; a replaced
# one keeps its place.
SAVE_FEED = """
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
"""

# KEYS: outbox_data. ARGV: the destination's `"to":...` text. Reads every entry: O(outbox).
OUTBOX_FOR = """
local n = 0
for _, text in ipairs(redis.call('HVALS', KEYS[1])) do
  if string.find(text, ARGV[1], 1, true) then n = n + 1 end
end
return n
"""

# KEYS: one sorted set per budget. ARGV: now, a unique member, then (count, window) per key.
# All budgets allow the send: it is recorded in each and 0 returned; else the seconds until
# the tightest one allows it, recording nothing. Sliding windows, judged by the caller's clock.
TAKE_BUDGET = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local count = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local held = redis.call('ZCARD', key)
  if held >= count then
    local edge = redis.call('ZRANGE', key, held - count, held - count, 'WITHSCORES')
    local w = tonumber(edge[2]) + window - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000) + 1000)
end
return '0'
"""

# KEYS: subscriptions, topics, feeds, feeds_order, feeds_seq, chats, links_index, digest_index,
#       outbox_data.
# ARGV: old, new, old id head, new id head, old and new `"to":...` text, old and new
#       `"owner":...` text, then (old, new) key-name prefixes: digest, then one pair a delivery
#       for links.
# The digest and link keys it moves are found in their indexes, so it touches keys not passed
# in KEYS: fine on one Redis (Dozor never ran on Cluster: a commit spans hash slots anyway).
# Reads every subscription, topic, feed and outbox entry: O(all), for a rare event.
MOVE_DESTINATION = """
local old, new, old_head, new_head = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local texts = {to = {ARGV[5], ARGV[6]}, owner = {ARGV[7], ARGV[8]}}

local function starts(text, head) return string.sub(text, 1, #head) == head end

local function readdress(text, field)
  local from, to = texts[field][1], texts[field][2]
  local at = string.find(text, from, 1, true)
  if not at then return text end
  return string.sub(text, 1, at - 1) .. to .. string.sub(text, at + #from)
end

-- records keyed by JSON [owner, ...]: new's wins; `order` keeps a moved feed's place
local function move_records(hash, field, order)
  local all = redis.call('HGETALL', hash)
  for i = 1, #all, 2 do
    local id = all[i]
    if starts(id, old_head) then
      local moved = new_head .. string.sub(id, #old_head + 1)
      if redis.call('HSETNX', hash, moved, readdress(all[i + 1], field)) == 1 and order then
        local place = redis.call('ZSCORE', order, id) or redis.call('INCR', KEYS[5])
        redis.call('ZADD', order, place, moved)
      end
      redis.call('HDEL', hash, id)
      if order then redis.call('ZREM', order, id) end
    end
  end
end

-- keys listed in `index` whose names begin with `from`: merged into the same name under `to`
local function move_keys(index, from, to, merge)
  for _, name in ipairs(redis.call('SMEMBERS', index)) do
    if starts(name, from) then
      local moved = to .. string.sub(name, #from + 1)
      merge(name, moved)
      redis.call('DEL', name)
      redis.call('SREM', index, name)
      if redis.call('EXISTS', moved) == 1 then redis.call('SADD', index, moved) end
    end
  end
end

local function append_digest(name, moved)
  for _, text in ipairs(redis.call('LRANGE', name, 0, -1)) do
    redis.call('RPUSH', moved, readdress(text, 'to'))
  end
end

local function merge_links(name, moved)
  redis.call('ZUNIONSTORE', moved, 2, moved, name, 'AGGREGATE', 'MAX')
end

move_records(KEYS[1], 'to')
move_records(KEYS[2], 'owner')
move_records(KEYS[3], 'owner', KEYS[4])

local chat = redis.call('HGET', KEYS[6], old)
if chat then
  redis.call('HSETNX', KEYS[6], new, readdress(chat, 'to'))
  redis.call('HDEL', KEYS[6], old)
end

move_keys(KEYS[8], ARGV[9], ARGV[10], append_digest)
for i = 11, #ARGV, 2 do move_keys(KEYS[7], ARGV[i], ARGV[i + 1], merge_links) end

local moved = 0
local entries = redis.call('HGETALL', KEYS[9])
for i = 1, #entries, 2 do
  if string.find(entries[i + 1], texts.to[1], 1, true) then
    redis.call('HSET', KEYS[9], entries[i], readdress(entries[i + 1], 'to'))
    moved = moved + 1
  end
end
return moved
"""
