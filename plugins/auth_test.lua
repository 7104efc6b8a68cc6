-- Spec of the auth plugin: static tokens, HS256 JWTs, anonymous clients.
local SECRET = "test-secret"
-- HS256 with SECRET: { sub = "jane", roles = { "staff" }, name = "Jane", exp = 4102444800 (2100) }
local JANE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqYW5lIiwicm9sZXMiOlsic3RhZmYiXSwibmFtZSI6IkphbmUiLCJleHAiOjQxMDI0NDQ4MDB9._f98uKQibYl_UwSogwKTv9ylO5qMBhHXDtwpQdmLlOE"
-- HS256 with SECRET, expired: { sub = "jane", exp = 1000000000 (2001) }
local EXPIRED = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqYW5lIiwiZXhwIjoxMDAwMDAwMDAwfQ.GUQon-NmZEYRrWUoHB-TriOYR42tjOY8hLrCT2cAJ9g"

describe("auth", function()
  describe("without a token", function()
    it("lets clients name themselves by default (the seed's rule)", function()
      local hub = test.hub()
      local ann = hub:connect("ann")
      expect(ann.user_id).to.equal("ann")
      expect(ann.roles).to.equal({})
    end)

    it("refuses them with auth_required when allow_anonymous is off", function()
      local hub = test.hub { settings = { auth = { allow_anonymous = false } } }
      local client, code, message = hub:connect("ann")
      expect(client).to.be_nil()
      expect(code).to.equal("auth_required")
      expect(message).to.equal("a token is required")
    end)

    it("never lets anyone be system", function()
      local _, code = test.hub():connect("system")
      expect(code).to.equal("auth_failed")
    end)
  end)

  describe("with a token", function()
    local hub
    before_each(function()
      hub = test.hub { settings = { auth = {
        jwt_secret = SECRET,
        tokens = { ["ops-token"] = { user_id = "ops", roles = { "admin" } } },
      } } }
    end)

    it("takes the identity of a static token, whatever user_id the client claims", function()
      local ops = hub:connect("mallory", { token = "ops-token" })
      expect(ops.user_id).to.equal("ops")
      expect(ops.roles).to.equal({ "admin" })
    end)

    it("takes the subject, roles and name of a valid JWT", function()
      local jane = hub:connect("whoever", { token = JANE, metadata = { theme = "dark" } })
      expect(jane.user_id).to.equal("jane")
      expect(jane.roles).to.equal({ "staff" })
      expect(jane.metadata).to.equal({ theme = "dark", name = "Jane" })
    end)

    it("refuses expired, forged and unknown tokens with the reason", function()
      local _, code, message = hub:connect("jane", { token = EXPIRED })
      expect(code).to.equal("auth_failed")
      expect(message).to.equal("invalid token: token expired")
      _, _, message = hub:connect("jane", { token = string.sub(JANE, 1, -3) .. "xx" })
      expect(message).to.equal("invalid token: bad signature")
      _, _, message = test.hub():connect("jane", { token = "nope" })
      expect(message).to.equal("unknown token")
    end)
  end)
end)
