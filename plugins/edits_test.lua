-- Spec of the edits plugin: edit and delete one's own messages, as custom event types.
describe("edits", function()
  local hub, alice, bob
  before_each(function()
    hub = test.hub { settings = { edits = { max_age = 600 } } }
    alice, bob = hub:connect("alice"), hub:connect("bob")
  end)

  it("lets authors edit their messages, and everyone sees the edit", function()
    local target = alice:say("lunch at 12?").event_id
    local edit = alice:send("edit", { target = target, message = "lunch at 1?" })
    expect(edit.data.target).to.equal(target)
    expect(edit.data.message).to.equal("lunch at 1?")
    expect(edit.data.edited_at).to.be_truthy()
    local got = bob:received("edit")
    expect(got).to.have_length(1)
    expect(got[1].data.message).to.equal("lunch at 1?")
    -- Stored: a client that joins later replays it after the message.
    local history = hub:history("general", 10)
    expect(history[#history].event_type).to.equal("edit")
  end)

  it("refuses changes to someone else's message, to a deleted one and to an unknown one", function()
    local target = alice:say("mine").event_id
    local _, code, message = bob:send("edit", { target = target, message = "yours now" })
    expect(code).to.equal("not_allowed")
    expect(message).to.equal("you may only change your own messages")
    _, code = bob:send("delete", { target = target })
    expect(code).to.equal("not_allowed")
    expect(alice:send("delete", { target = target })).to.be_truthy()
    _, code, message = alice:send("edit", { target = target, message = "back" })
    expect(code).to.equal("invalid_field")
    expect(message).to.equal("that message was deleted")
    _, code = alice:send("delete", { target = "12345" })
    expect(code).to.equal("invalid_field")
    _, code = alice:send("edit", { target = target })
    expect(code).to.equal("invalid_field")
  end)

  it("lets moderators delete any message, and nobody edit after max_age", function()
    local both = test.hub { plugins = { "auth", "edits" },
      settings = { auth = { tokens = { ["mod-token"] = { user_id = "mia", roles = { "moderator" } } }, allow_anonymous = true },
                   edits = { max_age = 0.000001 } } }
    local mia, eve = both:connect("mia", { token = "mod-token" }), both:connect("eve")
    local first = eve:say("first").event_id
    expect(mia:send("delete", { target = first })).to.be_truthy()
    -- Event times are wall-clock times, which the spec's clock does not move: a microsecond is long past.
    local second = eve:say("second").event_id
    local _, code, message = eve:send("edit", { target = second, message = "late" })
    expect(code).to.equal("not_allowed")
    expect(message).to.match("within 1e%-06 seconds")
  end)
end)
