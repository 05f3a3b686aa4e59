import { notFound } from '../../core/errors.js'
import { getRole, listRoles } from '../../iam/roles.js'
import { ok, type RequestContext } from '../handler.js'
import type { Router } from '../../http/router.js'
import type { Handler } from '../handler.js'

/**
 * GET /v1/roles and /v1/roles/{role}: the catalogue; GET /v1/settings: where services answer.
 * Readable by anyone signed in (an invoker needs the gateway URL to proxy a service it may not read).
 */
export function roleRoutes(r: Router<Handler>): void {
  r.add('GET', '/v1/settings', async (c) => {
    c.caller()
    return ok({ gatewayUrl: c.deps.settings.gatewayUrl.href.replace(/\/$/, ''), issuer: c.deps.settings.issuer })
  })
  r.add('GET', '/v1/roles', async (c: RequestContext) => {
    c.caller()
    return ok({ roles: listRoles() })
  })
  r.add('GET', '/v1/roles/{role}', async (c) => {
    c.caller()
    const role = getRole(`roles/${c.params.role}`)
    if (!role) throw notFound(`Role 'roles/${c.params.role}' does not exist. See 'postern iam roles list'.`)
    return ok(role)
  })
}
