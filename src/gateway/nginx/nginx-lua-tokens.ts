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
    local uchars = ffi.typeof("const unsigned char *")
    -- Postern's tokens live an hour by default and 24 h at most; iat may be a minute ahead (clock skew).
    local MAX_LIFETIME, LEEWAY = 86400, 60

    -- This worker's keys, by the token header (base64url, as sent) they verify: each an OpenSSL
    -- context set up once for RS256 (PKCS #1 v1.5 over SHA-256), so a check is a hash and one
    -- RSA public operation.
    local keys = {}
    -- Each token header's SHA-1 (its part of an identity), and the buffer a claims digest is made in.
    local header_ids = {}
    local claims_digest = ffi.new("unsigned char[32]")
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

    -- Tokens are read where they lie in the Authorization header, through pointers: a new token's
    -- claims and signature are decoded into these buffers, not into Lua strings. Every token of a
    -- caller ends alike, and LuaJIT interns each string by a hash of a few of its bytes (its ends
    -- among them): strings made of their parts would make long chains every new string walks.
    pcall(ffi.cdef, "int memcmp(const void *a, const void *b, size_t n);")
    require "ngx.base64"  -- declares ngx_decode_base64url
    local bytes = ffi.typeof("unsigned char *")
    local b64_from, b64_to = ffi.new("ngx_str_t[1]"), ffi.new("ngx_str_t[1]")
    local claims = ffi.new("unsigned char[6144]")    -- decoded from at most 8192 letters
    local signature = ffi.new("unsigned char[1536]") -- decoded from at most 2048 letters

    -- Each base64url letter's value, by byte: read from a table, because a chain of comparisons
    -- made LuaJIT try, and fail, to compile a side trace for it tens of times a second.
    local B64URL_VALUE = ffi.new("uint8_t[256]")
    for i = 0, 63 do B64URL_VALUE[("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"):byte(i + 1)] = i end

    -- Whether len base64url letters at p are canonical (read as base64url letters: text with any
    -- other fails to decode): the only spelling of their bytes, as Postern's own verification
    -- demands. Of a last group of 2 or 3 letters only the high bits count: the rest must be 0, or
    -- another token would decode to the same bytes.
    local function canonical(p, len)
      local rest = len % 4
      if rest == 0 then return true end
      if rest == 1 then return false end
      return B64URL_VALUE[p[len - 1]] % (rest == 2 and 16 or 4) == 0
    end

    -- Decodes len canonical base64url letters at p into buf (nginx's decoder refuses all but
    -- base64url letters, and stops at "=", which parts_of refuses): the decoded length, or nil.
    local function decode_into(buf, p, len)
      if not canonical(p, len) then return nil end
      b64_from[0].data, b64_from[0].len = p, len
      b64_to[0].data = buf
      if C.ngx_decode_base64url(b64_to, b64_from) ~= 0 then return nil end
      return tonumber(b64_to[0].len)
    end

    -- Whether Postern's key signed this token: its signature over its first two parts, hashed
    -- where they stand in the Authorization header ("Bearer " and then them, up to the second dot).
    local function signed_by(key, authorization, dot2)
      local p = ffi.cast(bytes, authorization)
      local n = decode_into(signature, p + dot2, #authorization - dot2)
      if not n then return false end
      C.SHA256(p + 7, dot2 - 8, digest)
      local ok = C.EVP_PKEY_verify(key.ctx, signature, n, digest, 32) == 1
      if not ok then C.ERR_clear_error() end
      return ok
    end

    -- A bearer token's header (as sent) and where its two dots are (positions in the Authorization
    -- header), if it has the shape of one: "Bearer " and three parts of bounded length, joined by
    -- dots. Found with plain searches, not a regular expression (the Lua module's PCRE has no JIT
    -- here: a match over a token cost more than its hashing). Their letters are checked where it
    -- matters: the signature and the claims by nginx's base64url decoder; the header by the
    -- signature over it, as sent.
    local function parts_of(authorization)
      if not authorization or authorization:sub(1, 7) ~= "Bearer " or authorization:find("=", 8, true) then return nil end
      local dot1 = authorization:find(".", 8, true)
      local dot2 = dot1 and authorization:find(".", dot1 + 1, true)
      if not dot2 then return nil end
      local header_len, payload_len, signature_len = dot1 - 8, dot2 - dot1 - 1, #authorization - dot2
      if header_len < 1 or header_len > 4096 or payload_len < 1 or payload_len > 8192 or signature_len < 1 or signature_len > 2048 then return nil end
      return authorization:sub(8, dot1 - 1), dot1, dot2
    end

    -- The value of the decimal digits that end just before index i of c (0-based), and where they
    -- begin; nil unless there are 1 to 15 of them.
    local function digits_before(c, i)
      local v, scale, j = 0, 1, i - 1
      while j >= 0 and c[j] >= 48 and c[j] <= 57 do
        v = v + (c[j] - 48) * scale
        scale = scale * 10
        j = j - 1
      end
      local count = i - 1 - j
      if count < 1 or count > 15 then return nil end
      return v, j + 1
    end

    -- Where the tail ,"iat":N,"exp":N} of n bytes of claims begins (0-based: the claims before it
    -- are the caller's), and its iat and exp; nil unless the claims are "{", at least one byte,
    -- then that tail, as Postern mints them.
    local function tail_of(c, n)
      if n < 2 or c[0] ~= 123 or c[n - 1] ~= 125 then return nil end
      local exp, at = digits_before(c, n - 1)
      if not exp or at < 7 or C.memcmp(c + at - 7, ',"exp":', 7) ~= 0 then return nil end
      local iat, from = digits_before(c, at - 7)
      if not iat or from < 9 or C.memcmp(c + from - 7, ',"iat":', 7) ~= 0 then return nil end
      return from - 7, iat, exp
    end

    -- A token's identity (digests of its header and of its claims before iat) and how much of its
    -- Authorization header comes before the signature ("Bearer header.payload."), if its claims
    -- have the shape Postern mints and make it valid now. Decodes the claims: for tokens whose
    -- signature is Postern's.
    local function identity_of(authorization, header, dot1, dot2)
      local n = decode_into(claims, ffi.cast(bytes, authorization) + dot1, dot2 - dot1 - 1)
      if not n then return nil end
      local cut, iat, exp = tail_of(claims, n)
      if not cut then return nil end
      local now = ngx_now()
      -- Expiring within a second: Postern decides (with its leeway) rather than nginx.
      if exp <= now + 1 or iat > now + LEEWAY or exp < iat or exp - iat > MAX_LIFETIME then return nil end
      -- The identity as digests, never as the text itself (the interning above).
      local hid = header_ids[header]
      if not hid then
        hid = ngx.sha1_bin(header)
        header_ids[header] = hid
      end
      C.SHA256(claims, cut, claims_digest)
      return hid .. ffi.string(claims_digest, 32), dot2
    end

    -- What Postern's allow verdict taught: the key of this token's header (from then on, tokens
    -- with this header can be checked here). Returns the token's identity, to keep the verdict under.
    local function learn_key(authorization, der)
      local header, dot1, dot2 = parts_of(authorization)
      if not header then return nil end
      if der and der ~= "" and not keys[header] then shared:set("K" .. header, der) end
      return (identity_of(authorization, header, dot1, dot2))
    end

    -- The identity of a token nginx may admit on a verdict Postern gave for another token of the
    -- same caller: Postern's key for its header is known here and the signature is Postern's.
    -- Returns the identity and how much of the Authorization header goes upstream, up to the
    -- signature (nginx appends SIGNATURE_REMOVED), or nil.
    local function token_identity(authorization)
      local header, dot1, dot2 = parts_of(authorization)
      if not header then return nil end
      local key = key_for(header)
      if not key or not signed_by(key, authorization, dot2) then return nil end
      return identity_of(authorization, header, dot1, dot2)
    end
`
}
