-- reactions: a custom event type. Clients react to a message with an emoji:
--   { "event_type": "reaction", "room_id": "general",
--     "data": { "target": "<event_id>", "emoji": "👍" } }
-- The data is validated, and every member receives the reaction with `count`: how many people now have
-- that emoji on that message (the hub's tally since it started). `"remove": true` takes the sender's back
-- (`removed = true`, the count one lower), `false` puts it on; without `remove` a reaction toggles.
-- Reactions are stored, so they are replayed and resumable: a client can also count them itself from each
-- user's latest reaction, which survives a restart of the hub (the tally does not).
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
        if data.remove ~= nil and type(data.remove) ~= "boolean" then return false, "remove must be true or false" end
        return true
      end,
      handle = function(ctx, event)
        local ttl = hub.config.remember
        local key = event.room_id .. "/" .. event.data.target .. "/" .. event.data.emoji
        local mine = key .. "/" .. ctx.user_id
        -- The client may say which way (remove = true or false); without it a reaction toggles.
        local had = hub.store.get(mine) ~= nil
        local remove = event.data.remove
        if type(remove) ~= "boolean" then remove = had end
        event.data.remove = nil
        if remove then
          if had then hub.store.delete(mine) end
          event.data.count = math.max(0, had and hub.store.incr(key, -1, ttl) or (hub.store.get(key) or 0))
          event.data.removed = true
        else
          if not had then hub.store.set(mine, true, ttl) end
          event.data.count = had and (hub.store.get(key) or 1) or hub.store.incr(key, 1, ttl)
        end
        return event
      end,
    },
  },
}
