-- reactions: a custom event type. Clients react to a message with an emoji:
--   { "event_type": "reaction", "room_id": "general",
--     "data": { "target": "<event_id>", "emoji": "👍" } }
-- The data is validated, the hub counts reactions per target and emoji, and every member receives the
-- reaction with its running count. Reactions are stored, so they are replayed and resumable.
return {
  name = "reactions",
  version = "1.0.0",
  description = "A custom 'reaction' event type with validated data and running counts.",

  config = {
    max_emoji_length = { type = "integer", default = 16, min = 1, description = "longest emoji string, in characters" },
  },

  types = {
    reaction = {
      stored = true,
      validate = function(data)
        if type(data) ~= "table" then return false, "data must be an object" end
        if type(data.target) ~= "string" or not string.match(data.target, "^%d+$") then
          return false, "target must be the event_id of a message"
        end
        if type(data.emoji) ~= "string" or data.emoji == "" then return false, "emoji is required" end
        local length = utf8.len(data.emoji)
        if length == nil or length > hub.config.max_emoji_length then return false, "emoji is too long" end
        return true
      end,
      handle = function(ctx, event)
        local key = event.room_id .. "/" .. event.data.target .. "/" .. event.data.emoji
        event.data.count = hub.store.incr(key, 1, 7 * 86400)
        return event
      end,
    },
  },
}
