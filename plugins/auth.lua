-- auth: who may connect, on every transport.
--
-- A client presents a token: the WebSocket auth frame's "token", an "Authorization: Bearer" header or a
-- ?token= query parameter. Static tokens from the configuration map to a user and roles; otherwise an
-- HS256 JWT signed with jwt_secret names the user in "sub" and the roles in "roles". Clients without a
-- token keep the seed's rule (they name their own user_id) unless allow_anonymous is false.
return {
  name = "auth",
  version = "1.0.0",
  priority = 100,
  description = "Static tokens and HS256 JWTs with roles; anonymous access configurable.",

  config = {
    jwt_secret = { type = "string", secret = true, description = "HS256 secret; JWTs are accepted when set" },
    tokens = { type = "object", default = {}, secret = true,
               description = "static tokens: { [token] = { user_id = \"...\", roles = { ... } } }" },
    allow_anonymous = { type = "boolean", default = true,
                        description = "clients without a token name their own user_id (the seed's rule)" },
    anonymous_roles = { type = "array", default = {}, description = "roles given to clients without a token" },
    leeway = { type = "number", default = 30, min = 0, description = "seconds of clock skew allowed for exp and nbf" },
    roles_claim = { type = "string", default = "roles", description = "JWT claim that lists the roles" },
  },

  on_connect = function(ctx)
    local config = hub.config
    local token = ctx.token
    if token == nil or token == hub.null or token == "" then
      if not config.allow_anonymous then
        return false, "a token is required", "auth_required"
      end
      if ctx.user_id == nil or ctx.user_id == hub.null then return nil end
      if ctx.user_id == "system" then return false, "user_id 'system' is reserved", "auth_failed" end
      return { user_id = ctx.user_id, roles = config.anonymous_roles, metadata = ctx.metadata }
    end

    local static = config.tokens[token]
    if static ~= nil then
      return { user_id = static.user_id, roles = static.roles or {}, metadata = ctx.metadata }
    end

    if config.jwt_secret ~= nil then
      local claims, err = hub.jwt.verify(token, config.jwt_secret, config.leeway)
      if claims == nil then
        return false, "invalid token: " .. err, "auth_failed"
      end
      if type(claims.sub) ~= "string" or claims.sub == "" then
        return false, "the token has no subject (sub)", "auth_failed"
      end
      local roles = claims[config.roles_claim]
      if type(roles) ~= "table" then roles = {} end
      local metadata = ctx.metadata
      if type(claims.name) == "string" then
        metadata = hub.copy(ctx.metadata)
        metadata.name = claims.name
      end
      return { user_id = claims.sub, roles = roles, metadata = metadata }
    end

    return false, "unknown token", "auth_failed"
  end,
}
