/// The Lua side of spec files: `describe`, `it`, `before_each`, `expect`, and `test.hub` with its hub and
/// connection objects over the host functions of `SpecModule`. Runs in the spec's state before the spec.
enum SpecPrelude {
    static let source = #"""
    local T = test
    local tests, levels = {}, { { name = nil, befores = {} } }

    function describe(name, body)
      if type(name) ~= "string" or type(body) ~= "function" then error("describe(name, function() ... end)", 2) end
      levels[#levels + 1] = { name = name, befores = {} }
      body()
      levels[#levels] = nil
    end

    function before_each(fn)
      if type(fn) ~= "function" then error("before_each(function() ... end)", 2) end
      local befores = levels[#levels].befores
      befores[#befores + 1] = fn
    end

    function it(name, body)
      if type(name) ~= "string" or type(body) ~= "function" then error("it(name, function() ... end)", 2) end
      local names, befores = {}, {}
      for _, level in ipairs(levels) do
        if level.name then names[#names + 1] = level.name end
        for _, fn in ipairs(level.befores) do befores[#befores + 1] = fn end
      end
      names[#names + 1] = name
      tests[#tests + 1] = { name = table.concat(names, " › "), body = body, befores = befores }
    end

    local function show(value)
      if value == nil then return "nil" end
      if type(value) == "string" then return string.format("%q", value) end
      if type(value) == "function" then return "a function" end
      return T._show(value)
    end

    local function same(a, b, depth)
      if a == b then return true end
      if type(a) ~= "table" or type(b) ~= "table" or depth > 50 then return false end
      for k, v in pairs(a) do if not same(v, b[k], depth + 1) then return false end end
      for k in pairs(b) do if a[k] == nil then return false end end
      return true
    end

    local function contains(haystack, needle)
      if type(haystack) == "string" then return type(needle) == "string" and string.find(haystack, needle, 1, true) ~= nil end
      if type(haystack) ~= "table" then return false end
      for _, v in pairs(haystack) do if same(v, needle, 0) then return true end end
      return false
    end

    function expect(actual)
      local e, negated = {}, false
      local function check(ok, message)
        if negated then ok, message = not ok, "not: " .. message end
        if not ok then error(message, 3) end  -- 3: the spec's line that called the expectation
      end
      e.to, e.be, e.is = e, e, e
      e.never = setmetatable({}, { __index = function(_, key) negated = true return e[key] end })
      function e.equal(expected) check(same(actual, expected, 0), "expected " .. show(expected) .. ", got " .. show(actual)) return e end
      function e.be_nil() check(actual == nil, "expected nil, got " .. show(actual)) return e end
      function e.be_truthy() check(actual ~= nil and actual ~= false, "expected a true value, got " .. show(actual)) return e end
      function e.be_falsy() check(actual == nil or actual == false, "expected nil or false, got " .. show(actual)) return e end
      function e.contain(needle) check(contains(actual, needle), "expected " .. show(actual) .. " to contain " .. show(needle)) return e end
      function e.match(pattern) check(type(actual) == "string" and string.find(actual, pattern) ~= nil, "expected " .. show(actual) .. " to match " .. show(pattern)) return e end
      function e.have_length(n) check(type(actual) == "table" and #actual == n, "expected " .. n .. " items, got " .. (type(actual) == "table" and #actual or show(actual))) return e end
      function e.be_above(n) check(type(actual) == "number" and actual > n, "expected more than " .. show(n) .. ", got " .. show(actual)) return e end
      return e
    end

    function test.fail(message) error(message or "failed", 2) end

    local Hub, Connection = {}, {}
    Hub.__index, Connection.__index = Hub, Connection

    function test.hub(options) return setmetatable({ id = T._hub(options or {}) }, Hub) end

    function Hub:connect(user_id, options)
      local id, identity, message = T._connect(self.id, user_id, options or {})
      if not id then return nil, identity, message end
      return setmetatable({ hub = self.id, id = id, user_id = identity.user_id, roles = identity.roles, metadata = identity.metadata }, Connection)
    end
    function Hub:publish(room, event_type, data, user_id) return T._publish(self.id, room, event_type, data, user_id) end
    function Hub:advance(seconds) T._advance(self.id, seconds) end
    function Hub:store(plugin, key) return T._store(self.id, plugin, key) end
    function Hub:history(room, count) return T._history(self.id, room, count) end

    function Connection:join(room) return T._join(self.hub, self.id, room) end
    function Connection:leave(room) return T._leave(self.hub, self.id, room) end
    function Connection:send(event_type, data, room) return T._send(self.hub, self.id, event_type, data, room) end
    function Connection:say(text, room) return T._send(self.hub, self.id, "message", { message = text }, room) end
    function Connection:received(event_type)
      local all = T._received(self.hub, self.id)
      if not event_type then return all end
      local picked = {}
      for _, event in ipairs(all) do if event.event_type == event_type then picked[#picked + 1] = event end end
      return picked
    end
    function Connection:closed() return T._closed(self.hub, self.id) end
    function Connection:disconnect() return T._disconnect(self.hub, self.id) end

    return {
      count = function() return #tests end,
      name = function(i) return tests[i].name end,
      run = function(i)
        local t = tests[i]
        for _, fn in ipairs(t.befores) do fn() end
        t.body()
      end,
    }
    """#
}
