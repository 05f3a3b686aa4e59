import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import { check } from '../access.js'
import { allowRead, ok, type Handler } from '../handler.js'

/**
 * The one organization, the installation (DESIGN §1), shown as Google's Resource Manager shows
 * one, for gcloud's `organizations list` and `describe`. Nothing about it can change but its
 * policy (iam-policy.ts), so it is a constant.
 */
const LOCAL = { name: ORGANIZATION, displayName: 'local', state: 'ACTIVE' }

export function organizationRoutes(r: Router<Handler>): void {
  // The organizations the caller may see, as the projects list answers: asking is never a 403.
  r.add('GET', '/v1/organizations', async (c) => {
    const visible = check(c.deps.directory, c.caller().principal, 'resourcemanager.organizations.get', ORGANIZATION, c.deps.clock()).allow
    return ok(visible ? { organizations: [LOCAL] } : {})
  })

  r.add('GET', '/v1/organizations/local', async (c) => {
    allowRead(c, 'resourcemanager.organizations.get', ORGANIZATION)
    return ok(LOCAL)
  })
}
