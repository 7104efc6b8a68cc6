-- dashboard: publishes the hub's live numbers to a room on a timer, for live charts.
-- Each tick is a stored "stats" event, so a page that opens the room gets the recent points first.
-- A tick carries hub.stats() (connections, rooms, counters, memory, publish latency), the busiest rooms
-- as `room_stats` (room -> users, at most 10), and `recent`: the events published since the last tick
-- (type, room, sender and time, never their data; at most `log_size`, not the dashboard's own ticks).
-- Rooms matching `hidden` (private user-*, role-only staff-* and admin rooms) appear in neither.
-- Private and role-only rooms stay off the dashboard (its room is open to everyone by default).
local function hidden(room)
  for _, pattern in ipairs(hub.config.hidden) do
    if string.find(room, pattern) then return true end
  end
  return false
end

local function is_logged(entry)
  if entry.room_id == hub.config.room or hidden(entry.room_id) then return false end
  for _, t in ipairs(hub.config.log_skip) do
    if t == entry.event_type then return false end
  end
  return true
end

return {
  name = "dashboard",
  version = "1.1.0",
  description = "Publishes hub statistics and a log of recent events to a room every few seconds.",

  config = {
    room = { type = "string", default = "dashboard", description = "room that receives the stats" },
    interval = { type = "number", default = 2, min = 0.1, max = 3600, description = "seconds between two ticks" },
    log_size = { type = "integer", default = 20, min = 0, max = 50, description = "most recent events listed in one tick" },
    log_skip = { type = "array", default = { "typing" }, description = "event types left out of the log" },
    hidden = {
      type = "array", default = { "^user%-", "^staff%-", "^admin$" },
      description = "Lua patterns of rooms left out of room_stats and the log (private and role-only rooms)",
    },
  },

  on_load = function(config)
    hub.every(config.interval, function()
      local stats = hub.stats()
      stats.at = hub.now()
      stats.room_stats = {}
      for _, room in ipairs(stats.top_rooms) do
        if not hidden(room.room_id) then stats.room_stats[room.room_id] = room.users end
      end
      stats.top_rooms = nil
      -- The hub keeps its last 50 events; a tick lists those after the last one the previous tick saw.
      -- The position is in the store, because ticks may run on any of the plugin's states.
      local after = hub.store.get("log_position") or 0
      local last = stats.recent[#stats.recent]
      if last and last.seq < after then after = 0 end   -- the hub restarted, the store did not (Redis)
      local recent = {}
      for _, entry in ipairs(stats.recent) do
        if entry.seq > after and is_logged(entry) then
          table.insert(recent, { event_type = entry.event_type, room_id = entry.room_id, user_id = entry.user_id, at = entry.at })
        end
      end
      if last then hub.store.set("log_position", last.seq) end
      while #recent > config.log_size do table.remove(recent, 1) end
      stats.recent = hub.array(recent)
      hub.publish(config.room, "stats", stats)
    end, "tick")
  end,

  types = {
    stats = {
      stored = true,
      handle = function(ctx, event)
        if ctx.plugin ~= "dashboard" then return false, "only the hub publishes stats", "not_allowed" end
        return nil
      end,
    },
  },
}
