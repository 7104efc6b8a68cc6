-- reactions: a custom event type. Clients react to a message with an emoji:
--   { "event_type": "reaction", "room_id": "general",
--     "data": { "target": "<event_id>", "emoji": "👍" } }
-- The data is validated, and every member receives the reaction with `count`: how many people now have
-- that emoji on that message. A second reaction of one user with the same emoji takes theirs back
-- (`removed = true`, the count one lower). Reactions are stored, so they are replayed and resumable.
return {
  name = "reactions",
  version = "1.0.0",
  description = "A custom 'reaction' event type with validated data and per-user counts that toggle.",

  config = {
    max_emoji_length = { type = "integer", default = 16, min = 1, description = "longest emoji string, in characters" },
    remember = { type = "number", default = 7 * 86400, min = 1, description = "seconds counts are kept after the last reaction" },
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
        local ttl = hub.config.remember
        local key = event.room_id .. "/" .. event.data.target .. "/" .. event.data.emoji
        -- A user's reactions with one emoji on one message alternate: add, remove, add... The parity of an
        -- atomic counter decides, so two clicks racing on two of the plugin's states still alternate.
        local clicks = hub.store.incr(key .. "/" .. ctx.user_id, 1, ttl)
        if clicks % 2 == 1 then
          event.data.count = hub.store.incr(key, 1, ttl)
        else
          event.data.count = math.max(0, hub.store.incr(key, -1, ttl))
          event.data.removed = true
        end
        return event
      end,
    },
  },
}
