-- Spec of the private_rooms plugin: rooms by role, per-user rooms, redaction per recipient.
describe("private_rooms", function()
  local hub, admin, staff, guest
  before_each(function()
    -- Roles come from the auth plugin's static tokens.
    hub = test.hub { plugins = { "auth", "private_rooms" }, settings = { auth = { tokens = {
      ["a"] = { user_id = "root", roles = { "admin" } },
      ["s"] = { user_id = "sam", roles = { "staff" } },
    } } } }
    admin = hub:connect("root", { token = "a" })
    staff = hub:connect("sam", { token = "s" })
    guest = hub:connect("gus")
  end)

  it("lets into a room only the roles it lists (prefix rules too)", function()
    expect(admin:join("admin")).to.be_truthy()
    local joined, code, message = staff:join("admin")
    expect(joined).to.be_nil()
    expect(code).to.equal("join_refused")
    expect(message).to.equal("room 'admin' needs one of the roles: admin")
    expect(staff:join("staff-ops")).to.be_truthy()
    expect(guest:join("staff-ops")).to.be_nil()
    expect(guest:join("lobby")).to.be_truthy()
  end)

  it("keeps user-<id> rooms to their user and admins", function()
    expect(guest:join("user-gus")).to.be_truthy()
    local _, _, message = staff:join("user-gus")
    expect(message).to.equal("room 'user-gus' is private")
    expect(admin:join("user-gus")).to.be_truthy()
  end)

  it("hides email and ip from everyone but admins, live and in what they receive", function()
    guest:send("message", { message = "hi", email = "gus@example.com" })
    local seen_by_staff = staff:received("message")[1]
    expect(seen_by_staff.data.email).to.be_nil()
    expect(seen_by_staff.data.redacted).to.equal({ "email", "ip" })
    expect(seen_by_staff.data.message).to.equal("hi")
    expect(admin:received("message")[1].data.email).to.equal("gus@example.com")
    -- What is stored is the original.
    expect(hub:history("general")[1].data.email).to.equal("gus@example.com")
  end)
end)
