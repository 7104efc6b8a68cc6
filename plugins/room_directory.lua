-- room_directory: tells every connected client when a public room is first used, so room lists stay
-- current without a reload:
--   { "event_type": "room_opened", "room_id": null, "data": { "room": "design" } }
-- sent to every WebSocket and SSE connection of this node (hub.broadcast: long-poll clients, and with Redis
-- the clients of other nodes, do not get it). Rooms matching a `hidden` pattern (private and role-only
-- rooms) are never announced, and one user opens at most `per_user` announced rooms per `window`.
local function hidden(room)
  for _, pattern in ipairs(hub.config.hidden) do
    if string.find(room, pattern) then return true end
  end
  return false
end

return {
  name = "room_directory",
  version = "1.0.0",
  description = "Announces new public rooms to every connected client.",

  config = {
    hidden = {
      type = "array", default = { "^user%-", "^staff%-", "^admin$", "^dashboard$" },
      description = "Lua patterns of rooms never announced",
    },
    remember = { type = "number", default = 86400, min = 1, description = "seconds a room counts as known after it was announced" },
    per_user = { type = "integer", default = 10, min = 0, description = "announced rooms one user may open per window (0: no limit)" },
    window = { type = "number", default = 60, min = 1, description = "seconds of the per-user window" },
  },

  on_join = function(ctx, room)
    if hidden(room) then return nil end
    -- incr is atomic across the plugin's states: only the first join of a room announces it.
    if hub.store.get("room:" .. room) then return nil end
    -- A user creating rooms in a loop would make every client hear of each: past the limit, the rooms
    -- are still joined, but not announced.
    local config = hub.config
    if config.per_user > 0 and hub.store.incr("opened:" .. ctx.user_id, 1, config.window) > config.per_user then
      return nil
    end
    -- incr is atomic across the plugin's states: only the first join of a room announces it.
    if hub.store.incr("room:" .. room, 1, config.remember) == 1 then
      hub.broadcast("room_opened", { room = room })
    end
    return nil
  end,
}
