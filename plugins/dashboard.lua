-- dashboard: publishes the hub's live numbers to a room on a timer, for live charts.
-- Each tick is a stored "stats" event, so a page that opens the room gets the recent points first.
return {
  name = "dashboard",
  version = "1.0.0",
  description = "Publishes hub statistics to a room every few seconds.",

  config = {
    room = { type = "string", default = "dashboard", description = "room that receives the stats" },
    interval = { type = "number", default = 2, min = 0.1, max = 3600, description = "seconds between two ticks" },
  },

  on_load = function(config)
    hub.every(config.interval, function()
      local stats = hub.stats()
      stats.at = hub.now()
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
