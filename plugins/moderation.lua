-- moderation: banned words, a maximum length, a per-user rate limit, and mute / ban by moderators.
--
-- Moderators (users with moderator_role) send a "moderate" event to a room:
--   { "event_type": "moderate", "room_id": "general",
--     "data": { "action": "mute", "user_id": "bob", "seconds": 300, "reason": "spam" } }
-- Actions: mute, unmute, ban, unban. A muted user cannot publish; a banned user cannot join or publish
-- and is disconnected. The room sees the moderate event (it is not stored).
local function has_role(ctx, role)
  for _, r in ipairs(ctx.roles or {}) do
    if r == role then return true end
  end
  return false
end

local function text_of(event)
  local data = event.data
  if type(data) ~= "table" then return nil end
  if type(data.message) == "string" then return data.message, "message" end
  if type(data.content) == "string" then return data.content, "content" end
  return nil
end

-- The first banned word in `text`. Words are compared in their normalized form (hub.text: NFKC, case
-- folded, accents and zero-width characters removed), so "ＳＰＡＭ", "Spåm" and "sp<zero-width space>am" all
-- read as "spam"; the squeezed form also catches letters written apart ("s p a m", "s.p.a.m").
local function contains_banned(text, words)
  for _, form in ipairs({ text, hub.text.squeeze(text) }) do
    for _, word in ipairs(hub.text.words(form)) do
      if words[word] then return word end
      -- Apostrophes inside a word: "s'p'a'm" read without them, "spam's" by its parts.
      if string.find(word, "'", 1, true) then
        local joined = string.gsub(word, "'", "")
        if words[joined] then return joined end
        for part in string.gmatch(word, "[^']+") do
          if words[part] then return part end
        end
      end
    end
  end
  return nil
end

-- Replaces each run of non-space characters that holds a banned word.
local function mask(text, words, replacement)
  return (string.gsub(text, "%S+", function(chunk)
    if contains_banned(chunk, words) then return replacement end
    return chunk
  end))
end

local banned_lookup = {}

return {
  name = "moderation",
  version = "1.0.0",
  priority = 90,
  description = "Banned words, maximum length, per-user rate limit, mute and ban.",

  config = {
    banned_words = { type = "array", default = {}, description = "words refused in messages (matched on normalized text: case, width, accents, zero-width characters and spacing do not matter)" },
    mask_with = { type = "string", description = "mask banned words with this instead of refusing the message" },
    max_length = { type = "integer", default = 4000, min = 1, description = "most characters in a message" },
    rate_limit = { type = "integer", default = 20, min = 0, description = "messages per user per window (0: no limit)" },
    rate_window = { type = "number", default = 10, min = 0.1, description = "seconds of the rate window" },
    moderator_role = { type = "string", default = "moderator", description = "role that may mute and ban" },
    types = { type = "array", default = { "message", "typing" }, description = "event types checked" },
  },

  on_load = function(config)
    banned_lookup = {}
    for _, word in ipairs(config.banned_words) do
      for _, part in ipairs(hub.text.words(word)) do banned_lookup[part] = true end
    end
  end,

  on_join = function(ctx, room)
    if hub.store.get("ban:" .. ctx.user_id) then
      return false, "you are banned"
    end
  end,

  on_publish = function(ctx, event)
    if ctx.trusted then return nil end                -- plugins and callers holding the API key
    local checked = false
    for _, t in ipairs(hub.config.types) do
      if t == event.event_type then checked = true end
    end
    if not checked then return nil end
    local user = ctx.user_id
    if hub.store.get("ban:" .. user) then return false, "you are banned", "not_allowed" end
    local muted = hub.store.get("mute:" .. user)
    if muted then return false, "you are muted" .. (muted.reason and (": " .. muted.reason) or ""), "not_allowed" end
    if event.event_type == "typing" then return nil end

    local config = hub.config
    if config.rate_limit > 0 then
      local count = hub.store.incr("rate:" .. user, 1, config.rate_window)
      if count > config.rate_limit then
        return false, string.format("rate limit: at most %d messages in %g seconds", config.rate_limit, config.rate_window),
          "rate_limited"
      end
    end

    local text, field = text_of(event)
    if text == nil then return nil end
    if utf8.len(text) ~= nil and utf8.len(text) > config.max_length then
      return false, string.format("message too long: at most %d characters", config.max_length)
    end
    local word = contains_banned(text, banned_lookup)
    if word then
      if config.mask_with == nil then
        return false, "message contains a banned word"
      end
      local masked = mask(text, banned_lookup, config.mask_with)
      -- A word spread over several chunks ("s p a m") cannot be masked in place: refuse it.
      if contains_banned(masked, banned_lookup) then return false, "message contains a banned word" end
      event.data[field] = masked
      return event
    end
    return nil
  end,

  types = {
    moderate = {
      stored = false,
      validate = function(data)
        if type(data) ~= "table" then return false, "data must be an object" end
        local actions = { mute = true, unmute = true, ban = true, unban = true }
        if not actions[data.action] then return false, "action must be mute, unmute, ban or unban" end
        if type(data.user_id) ~= "string" or data.user_id == "" then return false, "user_id is required" end
        if data.seconds ~= nil and (type(data.seconds) ~= "number" or data.seconds <= 0) then
          return false, "seconds must be a positive number"
        end
        return true
      end,
      handle = function(ctx, event)
        if not has_role(ctx, hub.config.moderator_role) then
          return false, "only moderators may moderate", "not_allowed"
        end
        local data = event.data
        local record = { by = ctx.user_id, reason = data.reason, at = hub.now() }
        if data.action == "mute" then
          hub.store.set("mute:" .. data.user_id, record, data.seconds)
        elseif data.action == "unmute" then
          hub.store.delete("mute:" .. data.user_id)
        elseif data.action == "ban" then
          hub.store.set("ban:" .. data.user_id, record, data.seconds)
          hub.kick(data.user_id, "banned" .. (data.reason and (": " .. data.reason) or ""))
        elseif data.action == "unban" then
          hub.store.delete("ban:" .. data.user_id)
        end
        hub.log.info(ctx.user_id .. " " .. data.action .. "d " .. data.user_id)
        return nil
      end,
    },
  },
}
