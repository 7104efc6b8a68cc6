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

  it("announces at most per_user rooms one user opens in a window", function()
    local hub = test.hub { settings = { room_directory = { per_user = 2, window = 60 } } }
    local bob = hub:connect("bob")          -- opens general, which is then known
    local alice = hub:connect("alice")
    bob:received()
    for _, room in ipairs({ "r1", "r2", "r3" }) do expect(alice:join(room)).to.be_truthy() end
    expect(bob:received("room_opened")).to.have_length(2)
    hub:advance(61)
    expect(alice:join("r4")).to.be_truthy()
    expect(bob:received("room_opened")).to.have_length(1)
  end)
end)
