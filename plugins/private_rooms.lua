-- private_rooms: who may join which room, and what each recipient sees.
--
-- rooms maps a room name, or a prefix ending in "*", to the roles allowed in it. Rooms named
-- "user-<id>" belong to that user alone (and to admins), for per-user notifications. At delivery, the
-- data fields listed in redact are removed for everyone without the admin role.
local function has_any_role(ctx, roles)
  for _, have in ipairs(ctx.roles or {}) do
    for _, want in ipairs(roles) do
      if have == want then return true end
    end
  end
  return false
end

local function rule_for(room, rules)
  if rules[room] then return rules[room] end
  local best, best_length = nil, -1
  for pattern, roles in pairs(rules) do
    if string.sub(pattern, -1) == "*" then
      local prefix = string.sub(pattern, 1, -2)
      if string.sub(room, 1, #prefix) == prefix and #prefix > best_length then
        best, best_length = roles, #prefix
      end
    end
  end
  return best
end

return {
  name = "private_rooms",
  version = "1.0.0",
  priority = 80,
  description = "Room access by role, private per-user rooms, and per-recipient redaction.",

  config = {
    rooms = { type = "object", default = { admin = { "admin" }, ["staff-*"] = { "admin", "staff" } },
              description = "room name or prefix* -> roles allowed" },
    user_rooms = { type = "boolean", default = true, description = "rooms user-<id> are private to that user" },
    admin_role = { type = "string", default = "admin", description = "role that may join any room and sees everything" },
    redact = { type = "array", default = { "email", "ip" }, description = "data fields hidden from non-admins" },
  },

  on_join = function(ctx, room)
    local config = hub.config
    if has_any_role(ctx, { config.admin_role }) then return true end
    if config.user_rooms and string.sub(room, 1, 5) == "user-" then
      if room == "user-" .. ctx.user_id then return true end
      return false, "room '" .. room .. "' is private"
    end
    local roles = rule_for(room, config.rooms)
    if roles == nil then return nil end
    if has_any_role(ctx, roles) then return true end
    return false, "room '" .. room .. "' needs one of the roles: " .. table.concat(roles, ", ")
  end,

  on_deliver = function(recipient, event)
    local config = hub.config
    if #config.redact == 0 or has_any_role(recipient, { config.admin_role }) then return nil end
    local data = event.data
    if type(data) ~= "table" then return nil end
    local hidden = false
    for _, field in ipairs(config.redact) do
      if data[field] ~= nil then hidden = true end
    end
    if not hidden then return nil end
    local copy = hub.copy(event)
    for _, field in ipairs(config.redact) do copy.data[field] = nil end
    copy.data.redacted = hub.array(hub.copy(config.redact))
    return copy
  end,
}
