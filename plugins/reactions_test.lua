-- Spec of the reactions plugin: a custom event type, validated, with per-user counts that toggle.
describe("reactions", function()
  local hub, alice, bob
  before_each(function()
    hub = test.hub()
    alice, bob = hub:connect("alice"), hub:connect("bob")
  end)

  it("counts reactions per message and emoji", function()
    local message = alice:say("lunch?")
    local target = message.event_id
    expect(bob:send("reaction", { target = target, emoji = "👍" }).data.count).to.equal(1)
    expect(alice:send("reaction", { target = target, emoji = "👍" }).data.count).to.equal(2)
    expect(alice:send("reaction", { target = target, emoji = "🎉" }).data.count).to.equal(1)
    local got = bob:received("reaction")
    expect(got).to.have_length(2)
    expect(got[2].data).to.equal({ target = target, emoji = "🎉", count = 1 })
  end)

  it("takes a user's reaction back when they react the same way again", function()
    local target = alice:say("lunch?").event_id
    expect(bob:send("reaction", { target = target, emoji = "👍" }).data.count).to.equal(1)
    expect(alice:send("reaction", { target = target, emoji = "👍" }).data.count).to.equal(2)
    local back = bob:send("reaction", { target = target, emoji = "👍" })
    expect(back.data.count).to.equal(1)
    expect(back.data.removed).to.equal(true)
    -- And again: on once more.
    expect(bob:send("reaction", { target = target, emoji = "👍" }).data.count).to.equal(2)
    expect(alice:received("reaction")).to.have_length(3)
  end)

  it("follows the way the client asks for, whatever the hub remembers", function()
    local target = alice:say("lunch?").event_id
    local on = bob:send("reaction", { target = target, emoji = "🎉", remove = false })
    expect(on.data.count).to.equal(1)
    expect(on.data.remove).to.be_nil()
    -- Asking again for "on" changes nothing; "off" takes it back, twice is still off.
    expect(bob:send("reaction", { target = target, emoji = "🎉", remove = false }).data.count).to.equal(1)
    local off = bob:send("reaction", { target = target, emoji = "🎉", remove = true })
    expect(off.data.removed).to.equal(true)
    expect(off.data.count).to.equal(0)
    expect(bob:send("reaction", { target = target, emoji = "🎉", remove = true }).data.count).to.equal(0)
    local _, code = bob:send("reaction", { target = target, emoji = "🎉", remove = "yes" })
    expect(code).to.equal("invalid_field")
  end)

  it("refuses reactions that do not point at a message or whose emoji is too long", function()
    local _, code, message = alice:send("reaction", { target = "latest", emoji = "👍" })
    expect(code).to.equal("invalid_field")
    expect(message).to.equal("invalid data for 'reaction': target must be the event_id of a message")
    _, code, message = alice:send("reaction", { target = "1", emoji = string.rep("x", 17) })
    expect(message).to.match("emoji is too long")
    expect(bob:received("reaction")).to.have_length(0)
  end)
end)
