-- edits: people edit and delete their own messages, with two custom event types:
--   { "event_type": "edit",   "room_id": "general", "data": { "target": "<event_id>", "message": "new text" } }
--   { "event_type": "delete", "room_id": "general", "data": { "target": "<event_id>" } }
-- Only the author of the target may edit or delete it (moderators may delete any message), within
-- max_age seconds of sending it; a deleted message cannot be edited. Both types are stored, so a client
-- that joins, resumes or pages back through history applies them too. The moderation plugin checks an
-- edit's text like a message's when "edit" is among its `types`.
local function has_role(ctx, role)
  for _, r in ipairs(ctx.roles or {}) do
    if r == role then return true end
  end
  return false
end

local function valid_target(data)
  if type(data) ~= "table" then return false, "data must be an object" end
  if type(data.target) ~= "string" or not string.match(data.target, "^%d+$") then
    return false, "target must be the event_id of a message"
  end
  return true
end

-- The target event among the room's latest `lookback` stored events, and whether it was deleted since.
local function find(room, target)
  local events = hub.history(room, hub.config.lookback)
  local deleted = false
  for i = #events, 1, -1 do
    local event = events[i]
    if event.event_id == target then return event, deleted end
    if event.event_type == "delete" and type(event.data) == "table" and event.data.target == target then deleted = true end
  end
  return nil, false
end

local function editable(event)
  for _, t in ipairs(hub.config.types) do
    if t == event.event_type then return true end
  end
  return false
end

-- nil when ctx may change `target` in its room, else the refusal.
local function check(ctx, event, deleting)
  if ctx.trusted then return nil end
  local target, deleted = find(event.room_id, event.data.target)
  if target == nil or not editable(target) then
    return "no such message in the room's recent history", "invalid_field"
  end
  if deleted then return "that message was deleted", "invalid_field" end
  local mine = target.user_id == ctx.user_id
  if not mine and not (deleting and has_role(ctx, hub.config.moderator_role)) then
    return "you may only change your own messages", "not_allowed"
  end
  if mine and hub.config.max_age > 0 and hub.now() - target.timestamp > hub.config.max_age then
    return string.format("messages can only be changed within %g seconds of sending them", hub.config.max_age), "not_allowed"
  end
  return nil
end

return {
  name = "edits",
  version = "1.0.0",
  description = "Edit and delete one's own messages: custom 'edit' and 'delete' event types.",

  config = {
    types = { type = "array", default = { "message" }, description = "event types that may be edited and deleted" },
    max_age = { type = "number", default = 86400, min = 0, description = "seconds after sending during which a message may be changed (0: always)" },
    lookback = { type = "integer", default = 1000, min = 1, max = 10000, description = "how many of the room's latest events are searched for the target" },
    moderator_role = { type = "string", default = "moderator", description = "role that may delete anyone's message" },
  },

  types = {
    edit = {
      stored = true,
      validate = function(data)
        local ok, reason = valid_target(data)
        if not ok then return false, reason end
        if type(data.message) ~= "string" or data.message == "" then return false, "message must be a non-empty string" end
        return true
      end,
      handle = function(ctx, event)
        local reason, code = check(ctx, event, false)
        if reason then return false, reason, code end
        event.data.edited_at = hub.now()
        return event
      end,
    },
    delete = {
      stored = true,
      validate = valid_target,
      handle = function(ctx, event)
        local reason, code = check(ctx, event, true)
        if reason then return false, reason, code end
        return nil
      end,
    },
  },
}
