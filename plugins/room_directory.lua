-- room_directory: tells every connected client when a public room is first used, so room lists stay
-- current without a reload:
--   { "event_type": "room_opened", "room_id": null, "data": { "room": "design" } }
-- sent to every WebSocket and SSE connection (long-poll clients learn rooms from their next welcome).
-- Rooms matching a `hidden` pattern (private and role-only rooms) are never announced.
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
  },

  on_join = function(ctx, room)
    if hidden(room) then return nil end
    -- incr is atomic across the plugin's states: only the first join of a room announces it.
    if hub.store.incr("room:" .. room, 1, hub.config.remember) == 1 then
      hub.broadcast("room_opened", { room = room })
    end
    return nil
  end,
}
