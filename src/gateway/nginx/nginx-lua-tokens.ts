import { SIGNATURE_REMOVED } from '../headers.js'

/**
 * The Lua that lets nginx admit a token it has never seen without asking Postern, when Postern has
 * already admitted a token of the same caller on the same host and method. Two tokens of one
 * caller differ only in `iat` and `exp` (and their signatures): Postern writes them last in every
 * ID token it mints ({..., "iat": N, "exp": N}), and nothing Postern decides rests on them but
 * the token's being valid now. So a verdict is also kept under the token's *identity* — its header
 * as sent (which names the key) and its claims up to `"iat"` — and a new token with that identity
 * is admitted once nginx has checked, itself, what tells it apart: the RS256 signature (OpenSSL,
 * through LuaJIT's FFI), and that `iat`/`exp` make it valid now.
 *
 * Nothing here parses JSON or knows Postern's token rules: nginx learns a key only from Postern's
 * own `allow` verdict, for the exact header of the token Postern verified (`learn_key`), and
 * reuses a verdict only for claims Postern already judged. Anything that does not fit — another
 * header, claims in another order, a token close to or past its expiry — is decided by Postern
 * as before. The signature is checked in full; the base64url must be canonical, as Postern's own
 * verification demands.
 */
export function tokenLua(): string {
  return `
    local ffi = require "ffi"
    local C = ffi.C
    for _, decl in ipairs({
      "typedef struct evp_pkey_st EVP_PKEY;",
      "typedef struct evp_md_st EVP_MD;",
      "typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;",
      "typedef struct engine_st ENGINE;",
      "EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);",
      "void EVP_PKEY_free(EVP_PKEY *pkey);",
      "EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, ENGINE *e);",
      "void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);",
      "int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);",
      "int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad);",
      "int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);",
      "int EVP_PKEY_verify(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs, size_t tbslen);",
      "const EVP_MD *EVP_sha256(void);",
      "unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);",
      "void ERR_clear_error(void);",
    }) do pcall(ffi.cdef, decl) end
    local base64 = require "ngx.base64"
    local decode64url, encode64url = base64.decode_base64url, base64.encode_base64url
    local match = ngx.re.match
    local uchars = ffi.typeof("const unsigned char *")
    local TOKEN = [[^Bearer ([A-Za-z0-9_-]{1,4096})\\.([A-Za-z0-9_-]{1,8192})\\.([A-Za-z0-9_-]{1,2048})$]]
    local SIGNATURE_REMOVED = ${JSON.stringify(SIGNATURE_REMOVED)}
    -- Postern's tokens live an hour by default and 24 h at most; iat may be a minute ahead (clock skew).
    local MAX_LIFETIME, LEEWAY = 86400, 60

    -- This worker's keys, by the token header (base64url, as sent) they verify: each an OpenSSL
    -- context set up once for RS256 (PKCS #1 v1.5 over SHA-256), so a check is a hash and one
    -- RSA public operation.
    local keys = {}
    local digest = ffi.new("unsigned char[32]")
    local RSA_PKCS1_PADDING = 1

    local function key_for(header)
      local k = keys[header]
      if k then return k end
      local der = shared:get("K" .. header)
      if not der then return nil end
      der = ngx.decode_base64(der)
      if not der then return nil end
      local p = ffi.new("const unsigned char *[1]", ffi.cast(uchars, der))
      local pkey = C.d2i_PUBKEY(nil, p, #der)
      if pkey == nil then C.ERR_clear_error() return nil end
      pkey = ffi.gc(pkey, C.EVP_PKEY_free)
      local ctx = C.EVP_PKEY_CTX_new(pkey, nil)
      if ctx == nil then C.ERR_clear_error() return nil end
      ctx = ffi.gc(ctx, C.EVP_PKEY_CTX_free)
      if C.EVP_PKEY_verify_init(ctx) ~= 1 or C.EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ~= 1 or C.EVP_PKEY_CTX_set_signature_md(ctx, C.EVP_sha256()) ~= 1 then
        C.ERR_clear_error()
        return nil
      end
      -- The context refers to the key: both live as long as this entry.
      k = { ctx = ctx, pkey = pkey }
      keys[header] = k
      return k
    end

    local function signed_by(key, header, payload, signature)
      local sig = decode64url(signature)
      if not sig or encode64url(sig) ~= signature then return false end
      local input = header .. "." .. payload
      C.SHA256(ffi.cast(uchars, input), #input, digest)
      local ok = C.EVP_PKEY_verify(key.ctx, ffi.cast(uchars, sig), #sig, digest, 32) == 1
      if not ok then C.ERR_clear_error() end
      return ok
    end

    -- A bearer token's parts, its identity (header and the claims before iat) and its own
    -- Authorization header without the signature, if it has the shape Postern mints and is valid
    -- now by its iat and exp. The signature is not checked here (token_identity does).
    local function token_parts(authorization)
      if not authorization then return nil end
      local m = match(authorization, TOKEN, "jo")
      if not m then return nil end
      local claims = decode64url(m[2])
      if not claims or encode64url(claims) ~= m[2] then return nil end
      local before, iat, exp = claims:match('^({.+),"iat":(%d+),"exp":(%d+)}$')
      if not before or #iat > 15 or #exp > 15 then return nil end
      iat, exp = tonumber(iat), tonumber(exp)
      local now = ngx_now()
      -- Expiring within a second: Postern decides (with its leeway) rather than nginx.
      if exp <= now + 1 or iat > now + LEEWAY or exp < iat or exp - iat > MAX_LIFETIME then return nil end
      return m[1], m[2], m[3], "\\n" .. m[1] .. "\\n" .. before, "Bearer " .. m[1] .. "." .. m[2] .. "." .. SIGNATURE_REMOVED
    end

    -- What Postern's allow verdict taught: the key of this token's header (from then on, tokens
    -- with this header can be checked here). Returns the token's identity, to keep the verdict under.
    local function learn_key(authorization, der)
      local header, _, _, identity = token_parts(authorization)
      if not header then return nil end
      if der and der ~= "" and not keys[header] then shared:set("K" .. header, der) end
      return identity
    end

    -- The identity of a token nginx may admit on a verdict Postern gave for another token of the
    -- same caller: Postern's key for its header is known here and the signature is Postern's.
    -- Returns the identity and the Authorization header to send upstream, or nil.
    local function token_identity(authorization)
      local header, payload, signature, identity, stripped = token_parts(authorization)
      if not header then return nil end
      local key = key_for(header)
      if not key or not signed_by(key, header, payload, signature) then return nil end
      return identity, stripped
    end
`
}
