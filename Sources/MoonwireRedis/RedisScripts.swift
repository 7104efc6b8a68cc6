/// The Lua scripts of the Redis broker. Each runs atomically in Redis, so ids, history, trimming and the
/// pub/sub message of one publish happen as one step, in one order for every node.
enum RedisScripts {
    /// Shared by the history scripts: the time in microseconds, and the epoch (set on first use).
    static let clock = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local epoch = tonumber(redis.call('GET', KEYS[3]))
        if not epoch then
          epoch = now
          redis.call('SET', KEYS[3], string.format('%.0f', now))
        end
        local function trim_by_age(maxage)
          if maxage <= 0 then return end
          local cutoff = string.format('%.0f', now - maxage)
          local old = redis.call('XREVRANGE', KEYS[1], '(' .. cutoff .. '-0', '-', 'COUNT', 1)
          if #old > 0 then
            redis.call('HSET', KEYS[2], 'trimmed', string.match(old[1][1], '^(%d+)'))
            redis.call('XTRIM', KEYS[1], 'MINID', cutoff .. '-0')
          end
        end

        """

    /// Stores an event and publishes it. KEYS: stream, meta, epoch. ARGV: payload, history size,
    /// age limit (µs, 0: none), channel. Returns the id.
    ///
    /// The id is Redis's clock in microseconds, or one more than the room's newest id (and above the
    /// epoch), so ids strictly increase per room whatever the nodes' clocks say.
    static let publish = RedisScript(
        name: "publish",
        source: clock + """
            local payload, maxlen, maxage, channel = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
            local head = tonumber(redis.call('HGET', KEYS[2], 'head')) or 0
            if head < epoch then head = epoch end
            local id = now
            if id <= head then id = head + 1 end
            local ids = string.format('%.0f', id)
            if maxlen <= 0 then
              redis.call('HSET', KEYS[2], 'trimmed', ids)
            else
              local len = redis.call('XLEN', KEYS[1])
              if len >= maxlen then
                local dropped = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', len - maxlen + 1)
                redis.call('HSET', KEYS[2], 'trimmed', string.match(dropped[#dropped][1], '^(%d+)'))
                redis.call('XTRIM', KEYS[1], 'MAXLEN', maxlen - 1)
              end
              redis.call('XADD', KEYS[1], ids .. '-0', 'e', payload)
            end
            trim_by_age(maxage)
            redis.call('HSET', KEYS[2], 'head', ids)
            redis.call('PUBLISH', channel, ids .. ' ' .. payload)
            return ids
            """)

    /// Reads history. KEYS: stream, meta, epoch. ARGV: `latest` or `after`, count (latest) or limit (after),
    /// the id to read after (`''`: from the oldest), age limit (µs). Returns {head, trimmed, oldest entry id,
    /// entries}; `after` reads one entry more than the limit, to tell whether more follow.
    static let read = RedisScript(
        name: "read",
        source: clock + """
            trim_by_age(tonumber(ARGV[4]))
            local head = tonumber(redis.call('HGET', KEYS[2], 'head')) or 0
            if head < epoch then head = epoch end
            local trimmed = tonumber(redis.call('HGET', KEYS[2], 'trimmed')) or 0
            if trimmed < epoch then trimmed = epoch end
            local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
            local oldest = ''
            if #first > 0 then oldest = first[1][1] end
            local n = tonumber(ARGV[2])
            local entries = {}
            if ARGV[1] == 'latest' then
              if n > 0 then entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', n) end
            elseif ARGV[1] == 'before' then
              entries = redis.call('XREVRANGE', KEYS[1], '(' .. ARGV[3] .. '-0', '-', 'COUNT', n + 1)
            else
              local from = '-'
              if ARGV[3] ~= '' then from = '(' .. ARGV[3] .. '-0' end
              entries = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', n + 1)
            end
            return {string.format('%.0f', head), string.format('%.0f', trimmed), oldest, entries}
            """)

    /// Shared by the presence scripts: the time in milliseconds, and removing one node's entry.
    static let presenceCommon = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local expiry_key, room_prefix, users_prefix, node_prefix = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
        local function split(text)
          local parts = {}
          local start = 1
          while true do
            local at = string.find(text, '\\n', start, true)
            if not at then
              table.insert(parts, string.sub(text, start))
              return parts
            end
            table.insert(parts, string.sub(text, start, at - 1))
            start = at + 1
          end
        end
        -- Removes node's entry for user in room; true when no node holds the user there any more.
        local function remove(room, user, node)
          redis.call('HDEL', room_prefix .. room, user .. '\\n' .. node)
          redis.call('SREM', node_prefix .. node, room .. '\\n' .. user)
          if redis.call('ZREM', expiry_key, room .. '\\n' .. user .. '\\n' .. node) == 1 then
            local n = redis.call('HINCRBY', users_prefix .. room, user, -1)
            if n <= 0 then
              redis.call('HDEL', users_prefix .. room, user)
              return true
            end
          end
          return false
        end
        -- Adds or updates node's entry; true when no node held the user in room before.
        local function upsert(room, user, node, detail, expires, ttl)
          redis.call('HSET', room_prefix .. room, user .. '\\n' .. node, detail)
          redis.call('SADD', node_prefix .. node, room .. '\\n' .. user)
          redis.call('PEXPIRE', node_prefix .. node, ttl * 4)
          if redis.call('ZADD', expiry_key, expires, room .. '\\n' .. user .. '\\n' .. node) == 1 then
            return redis.call('HINCRBY', users_prefix .. room, user, 1) == 1
          end
          return false
        end

        """

    /// KEYS: expiry. ARGV: prefixes (3), room, user, node, detail, ttl (ms). Returns 1 when the user is new
    /// to the room over all nodes.
    static let presenceJoin = RedisScript(
        name: "presence_join",
        source: presenceCommon + """
            local ttl = tonumber(ARGV[8])
            if upsert(ARGV[4], ARGV[5], ARGV[6], ARGV[7], now + ttl, ttl) then return 1 end
            return 0
            """)

    /// KEYS: expiry. ARGV: prefixes (3), room, user, node, what remains (`''`: nothing), ttl (ms).
    /// Returns 1 when no node holds the user in the room any more.
    static let presenceLeave = RedisScript(
        name: "presence_leave",
        source: presenceCommon + """
            local ttl = tonumber(ARGV[8])
            if ARGV[7] ~= '' then
              upsert(ARGV[4], ARGV[5], ARGV[6], ARGV[7], now + ttl, ttl)
              return 0
            end
            if remove(ARGV[4], ARGV[5], ARGV[6]) then return 1 end
            return 0
            """)

    /// Makes a node's entries what it holds now and pushes back their expiry. KEYS: expiry. ARGV:
    /// prefixes (3), node, ttl (ms), then room, user, detail for each entry. Returns {joined, left}:
    /// flat room, user lists of users that became present (an entry lost meanwhile) or absent (a leave
    /// that did not reach Redis) over all nodes.
    static let presenceRefresh = RedisScript(
        name: "presence_refresh",
        source: presenceCommon + """
            local node, ttl = ARGV[4], tonumber(ARGV[5])
            local joined, left, wanted = {}, {}, {}
            for i = 6, #ARGV, 3 do
              local room, user = ARGV[i], ARGV[i + 1]
              wanted[room .. '\\n' .. user] = true
              if upsert(room, user, node, ARGV[i + 2], now + ttl, ttl) then
                table.insert(joined, room)
                table.insert(joined, user)
              end
            end
            for _, held in ipairs(redis.call('SMEMBERS', node_prefix .. node)) do
              if not wanted[held] then
                local parts = split(held)
                if remove(parts[1], parts[2], node) then
                  table.insert(left, parts[1])
                  table.insert(left, parts[2])
                end
              end
            end
            return {joined, left}
            """)

    /// Removes expired entries (of nodes that stopped refreshing). KEYS: expiry. ARGV: prefixes (3), most
    /// entries to remove. Returns room, user pairs (flat) now present on no node: the caller announces
    /// them, and it is the only one to get them.
    static let presenceReap = RedisScript(
        name: "presence_reap",
        source: presenceCommon + """
            local left = {}
            local expired = redis.call('ZRANGEBYSCORE', expiry_key, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
            for _, member in ipairs(expired) do
              local parts = split(member)
              if remove(parts[1], parts[2], parts[3]) then
                table.insert(left, parts[1])
                table.insert(left, parts[2])
              end
            end
            return left
            """)

    /// A room's live entries. KEYS: expiry. ARGV: prefixes (3), room. Returns `user\nnode`, detail pairs (flat).
    static let presenceMembers = RedisScript(
        name: "presence_members",
        source: presenceCommon + """
            local room = ARGV[4]
            local result = {}
            local all = redis.call('HGETALL', room_prefix .. room)
            for i = 1, #all, 2 do
              local score = redis.call('ZSCORE', expiry_key, room .. '\\n' .. all[i])
              if score and tonumber(score) >= now then
                table.insert(result, all[i])
                table.insert(result, all[i + 1])
              end
            end
            return result
            """)

    /// `hub.store.incr`. KEYS: the key. ARGV: delta, ttl (ms, 0: none). Returns the new value as JSON text.
    /// A key that exists keeps its expiry; a missing or non-numeric one counts as 0.
    static let storeIncrement = RedisScript(
        name: "store_incr",
        source: """
            local current = redis.call('GET', KEYS[1])
            local value = tonumber(current or '0') or 0
            local delta = tonumber(ARGV[1])
            local result = value + delta
            local text
            if result == math.floor(result) and math.abs(result) < 9007199254740992 and not string.find(current or '', '[.eE]') and not string.find(ARGV[1], '[.eE]') then
              text = string.format('%.0f', result)
            else
              text = string.format('%.17g', result)
              if not string.find(text, '[.eEn]') then text = text .. '.0' end
            end
            if current then
              redis.call('SET', KEYS[1], text, 'KEEPTTL')
            elseif tonumber(ARGV[2]) > 0 then
              redis.call('SET', KEYS[1], text, 'PX', ARGV[2])
            else
              redis.call('SET', KEYS[1], text)
            end
            return text
            """)
}

/// Scripts for `hub.store` over Redis (used by the server's plugin store).
public enum RedisPlugins {
    /// `hub.store.incr`: KEYS: the key. ARGV: delta, ttl in ms (0: none). Returns the new value as JSON.
    public static let increment: RedisScript = RedisScripts.storeIncrement
}
