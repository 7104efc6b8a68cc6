-- Spec of the room_directory plugin: new public rooms are announced to every connection, once.
describe("room_directory", function()
  it("announces a public room on its first join, and only then", function()
    local hub = test.hub()
    local alice, bob = hub:connect("alice"), hub:connect("bob")
    bob:received()
    expect(alice:join("design")).to.be_truthy()
    local got = bob:received("room_opened")
    expect(got).to.have_length(1)
    expect(got[1].data.room).to.equal("design")
    expect(alice:received("room_opened")).to.have_length(1)   -- everyone hears of it, its opener too
    expect(bob:join("design")).to.be_truthy()
    expect(alice:received("room_opened")).to.have_length(0)
  end)

  it("never announces hidden rooms", function()
    local hub = test.hub { settings = { room_directory = { hidden = { "^secret" } } } }
    local alice, bob = hub:connect("alice"), hub:connect("bob")
    expect(alice:join("secret-plans")).to.be_truthy()
    expect(bob:received("room_opened")).to.have_length(0)
  end)
end)
