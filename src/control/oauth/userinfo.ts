import { authenticateBearer } from '../caller.js'
import type { Reply, RequestContext } from '../handler.js'

/**
 * The UserInfo endpoint (OIDC Core §5.3), GET or POST with an access token in Authorization (a
 * console cookie does not count): who the caller is — `sub` (the stable uid), `email` for users
 * and service accounts, and `principal`, the member string bindings name it by. A federated
 * caller's identity-provider email is not claimed as `email`, as in its tokens.
 */
export async function userinfo(c: RequestContext): Promise<Reply> {
  const { settings, keyring, directory, store, clock } = c.deps
  const caller = await authenticateBearer(c.req.rawHeaders, { keyring, directory, store, issuer: settings.issuer, controlUrl: settings.controlUrl, now: clock() })
  const p = caller.principal
  const claims =
    p.kind === 'user' || p.kind === 'serviceAccount'
      ? { sub: p.uid, email: p.email, email_verified: true, principal: caller.member }
      : p.kind === 'federated'
        ? { sub: p.uid, principal: caller.member }
        : {}
  return { body: claims, headers: { 'cache-control': 'no-store' } }
}
