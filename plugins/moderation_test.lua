-- Spec of the moderation plugin: `moonwire plugins test plugins` (or this file) runs it.
describe("moderation", function()
  local hub, alice, bob

  before_each(function()
    hub = test.hub { settings = { moderation = { banned_words = { "spam" }, rate_limit = 3, rate_window = 10 } } }
    alice = hub:connect("alice")
    bob = hub:connect("bob")
  end)

  it("lets ordinary messages through", function()
    expect(alice:say("hello")).to.be_truthy()
    local got = bob:received("message")
    expect(got).to.have_length(1)
    expect(got[1].data.message).to.equal("hello")
  end)

  it("refuses banned words, whatever their case, and tells the sender why", function()
    local event, code, message = alice:say("buy SPAM now")
    expect(event).to.be_nil()
    expect(code).to.equal("rejected")
    expect(message).to.equal("message contains a banned word")
    expect(bob:received("message")).to.have_length(0)
  end)

  it("sees through disguised spellings: spaced, dotted, fullwidth, accented, zero-width, mixed case", function()
    local open = test.hub { settings = { moderation = { banned_words = { "spam" }, rate_limit = 0 } } }
    local carol, dave = open:connect("carol"), open:connect("dave")
    for _, text in ipairs({ "s p a m", "buy s.p.a.m now", "s-p-a-m", "ｓｐａｍ", "sp\u{200B}am", "Spåm", "SpAm!", "S\u{00AD}PAM", "s'p'a'm", "'spam'", "spam's" }) do
      local event, code = carol:say(text)
      expect(event).to.be_nil()
      expect(code).to.equal("rejected")
    end
    expect(dave:received("message")).to.have_length(0)
    -- Ordinary words that merely contain the letters still pass, and spaced-out words that are not banned.
    expect(carol:say("spammer? no: a spa, a m-a-p")).to.be_truthy()
  end)

  it("masks banned words instead when mask_with is set", function()
    local masked = test.hub { settings = { moderation = { banned_words = { "spam" }, mask_with = "***" } } }
    local carol, dave = masked:connect("carol"), masked:connect("dave")
    carol:say("no spam here")
    expect(dave:received("message")[1].data.message).to.equal("no *** here")
    carol:say("no ｓｐａｍ here either")
    expect(dave:received("message")[1].data.message).to.equal("no *** here either")
    -- Spread over several words it cannot be masked in place: refused instead.
    local event, code = carol:say("s p a m")
    expect(event).to.be_nil()
    expect(code).to.equal("rejected")
  end)

  it("limits each user to rate_limit messages per window, and lets them go on after it", function()
    for i = 1, 3 do expect(alice:say("m" .. i)).to.be_truthy() end
    local _, code, message = alice:say("one too many")
    expect(code).to.equal("rate_limited")
    expect(message).to.match("at most 3 messages in 10 seconds")
    expect(bob:say("bob is not limited")).to.be_truthy()
    hub:advance(11)
    expect(alice:say("after the window")).to.be_truthy()
  end)

  it("lets moderators mute a user until the mute runs out", function()
    local mod = hub:connect("mod", { metadata = {} })
    -- Roles come from the auth plugin in a real hub; here a second hub loads both.
    local both = test.hub { plugins = { "auth", "moderation" },
      settings = { auth = { tokens = { ["mod-token"] = { user_id = "mod", roles = { "moderator" } } }, allow_anonymous = true } } }
    local moderator = both:connect("mod", { token = "mod-token" })
    local eve = both:connect("eve")
    expect(moderator.roles).to.contain("moderator")
    expect(moderator:send("moderate", { action = "mute", user_id = "eve", seconds = 60, reason = "spam" })).to.be_truthy()
    local _, code, message = eve:say("hi")
    expect(code).to.equal("not_allowed")
    expect(message).to.equal("you are muted: spam")
    both:advance(61)
    expect(eve:say("back")).to.be_truthy()
    -- Without the role, moderate is refused.
    local _, refused = mod:send("moderate", { action = "mute", user_id = "bob" })
    expect(refused).to.equal("not_allowed")
  end)

  it("keeps banned users out and disconnects them", function()
    local both = test.hub { plugins = { "auth", "moderation" },
      settings = { auth = { tokens = { ["mod-token"] = { user_id = "mod", roles = { "moderator" } } }, allow_anonymous = true } } }
    local moderator = both:connect("mod", { token = "mod-token" })
    local eve = both:connect("eve")
    moderator:send("moderate", { action = "ban", user_id = "eve", reason = "abuse" })
    expect(eve:closed()).to.equal("kicked")
    local again, code, message = both:connect("eve")
    expect(again).to.be_nil()
    expect(message).to.equal("you are banned")
    expect(both:store("moderation", "ban:eve").by).to.equal("mod")
  end)
end)
