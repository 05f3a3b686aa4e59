import type { Directory } from '../directory/directory.js'
import { decide, type Decision } from '../iam/decide.js'
import type { Member } from '../iam/members.js'
import { principalMembers, type Principal } from '../iam/principal.js'
import type { Route } from './routes.js'
import { BoundedCache } from '../core/bounded-cache.js'

const INVOKE = 'run.routes.invoke'
const ANONYMOUS = new Set<Member>(['allUsers'])

interface CachedDecision {
  chain: number
  epoch: number
  decision: Decision
}

/**
 * DESIGN §4 step 5 with its fast path: a caller's member set is cached per directory
 * epoch (groups, accounts), and a decision per caller and service together with the version of
 * the service's policy chain it was made under; any change to those policies or to groups makes
 * the entry stale at once. Decisions that hang on a condition are not cached: conditions see
 * `request.time`, which moves.
 */
export class InvokeAuthorizer {
  private readonly members = new BoundedCache<string, { epoch: number; set: Set<Member> }>(10_000)
  private readonly decisions = new BoundedCache<string, CachedDecision>(50_000)

  private hits = 0
  private misses = 0

  constructor(private readonly directory: Directory) {}

  hitRatio(): number {
    return this.hits + this.misses === 0 ? 0 : this.hits / (this.hits + this.misses)
  }

  /** Step 2: whether allUsers may invoke (a public service). */
  isPublic(route: Route, now: number): boolean {
    return this.cached('\u0000anonymous', route, now, () => ANONYMOUS).allow
  }

  /**
   * Whether the service's own policy holds a conditional binding: then a binding added to it must
   * say it has none (`--condition=None`), as gcloud asks, and the denial's command says so.
   */
  holdsConditions(route: Route): boolean {
    const own = this.directory.policyChainOf([route.resource])[0]
    if (!own) return false
    for (const grants of own.byRole.values()) if (grants.conditional.length > 0) return true
    return false
  }

  authorize(principal: Principal, key: string, route: Route, now: number): Decision {
    return this.cached(key, route, now, () => this.membersOf(principal, key))
  }

  private cached(key: string, route: Route, now: number, members: () => ReadonlySet<Member>): Decision {
    const chain = this.directory.chainVersion(route.lineage)
    const epoch = this.directory.epoch
    const cacheKey = `${key}\u0000${route.resource}`
    const hit = this.decisions.get(cacheKey)
    if (hit && hit.chain === chain && hit.epoch === epoch) {
      this.hits++
      return hit.decision
    }
    this.misses++
    const decision = decide({
      policies: this.directory.policyChainOf(route.lineage),
      members: members(),
      permission: INVOKE,
      resource: { name: route.resource, type: 'run.postern/Service' },
      now,
    })
    const dependsOnTime = decision.grantedBy?.condition !== undefined || decision.reason === 'condition-false' || decision.reason === 'condition-error'
    if (!dependsOnTime) this.decisions.set(cacheKey, { chain, epoch, decision })
    return decision
  }

  private membersOf(principal: Principal, key: string): Set<Member> {
    const epoch = this.directory.epoch
    const hit = this.members.get(key)
    if (hit && hit.epoch === epoch) return hit.set
    const set = principalMembers(principal, this.directory.groups)
    this.members.set(key, { epoch, set })
    return set
  }
}
