import { compilePolicy, type CompiledPolicy } from '../iam/compiled-policy.js'
import { GroupIndex } from '../iam/groups.js'
import type { Member } from '../iam/members.js'
import { lineage, resourceType } from '../iam/resources.js'
import { providerName } from '../identity/federation/workforce-names.js'
import type { Change, ServiceRecord, WorkforcePoolRecord, WorkforceProviderRecord } from '../store/records.js'
import type { Store } from '../store/store.js'

export interface KnownPrincipal {
  kind: 'user' | 'serviceAccount'
  uid: string
  email: string
  disabled: boolean
}

/**
 * Every process's in-memory view of what requests are decided on: services, policies (compiled),
 * group memberships and the users and service accounts tokens may name. Loaded once, then kept
 * current by applying the change feed (change-follower.ts), so no request reads the database.
 */
export class Directory {
  private services = new Map<string, ServiceRecord>()
  private policies = new Map<string, CompiledPolicy>()
  private principals = new Map<string, KnownPrincipal>()
  private groupIndex = new GroupIndex(new Map())
  private pools = new Map<string, WorkforcePoolRecord>()
  private providers = new Map<string, WorkforceProviderRecord>()
  private nextVersion = 1
  /** Bumped on any change to groups or principals; caches of derived data compare it. */
  epoch = 0
  /** Bumped whenever a service is added, changed or removed. */
  servicesEpoch = 0

  constructor(private readonly store: Store) {}

  async loadAll(): Promise<void> {
    const [services, policies, users, accounts] = await Promise.all([
      this.store.listServices(),
      this.store.listPolicies(),
      this.store.listUsers(),
      this.store.listServiceAccounts(),
    ])
    this.services = new Map(services.map((s) => [key(s.projectId, s.serviceId), s]))
    this.policies = new Map(policies.map((p) => [p.resource, compilePolicy(p.resource, resourceType(p.resource), p.policy, this.nextVersion++)]))
    this.principals = new Map()
    for (const u of users) this.principals.set(u.uid, { kind: 'user', uid: u.uid, email: u.email, disabled: u.disabled })
    for (const a of accounts) this.principals.set(a.uid, { kind: 'serviceAccount', uid: a.uid, email: a.email, disabled: a.disabled })
    await this.reloadGroups()
    await this.reloadWorkforce()
    this.epoch++
    // Loaded again after the database changed under this process: services may be other ones too.
    this.servicesEpoch++
  }

  /** Re-reads what the changes touched. Idempotent, so replaying a change is harmless. */
  async apply(changes: readonly Change[]): Promise<void> {
    const seen = new Set<string>()
    let groups = false
    let principals = false
    let workforce = false
    for (const c of changes) {
      const id = `${c.kind}\u0000${c.key}`
      if (seen.has(id)) continue
      seen.add(id)
      switch (c.kind) {
        case 'service': {
          const [p, s] = c.key.split('/') as [string, string]
          const record = await this.store.getService(p, s)
          if (record) this.services.set(c.key, record)
          else this.services.delete(c.key)
          this.servicesEpoch++
          break
        }
        case 'policy': {
          const record = await this.store.getPolicy(c.key)
          // A removed policy stays as an empty one with a new version, so chainVersion() moves.
          const body = record?.policy ?? { version: 1 as const, bindings: [] }
          this.policies.set(c.key, compilePolicy(c.key, resourceType(c.key), body, this.nextVersion++))
          break
        }
        case 'user':
        case 'serviceAccount':
          principals = true
          break
        case 'group':
          groups = true
          break
        case 'workforcePool':
          workforce = true
          break
        default:
          break
      }
    }
    if (principals) await this.reloadPrincipals()
    if (groups) await this.reloadGroups()
    if (workforce) await this.reloadWorkforce()
    if (groups || principals) this.epoch++
  }

  private async reloadPrincipals(): Promise<void> {
    const [users, accounts] = await Promise.all([this.store.listUsers(), this.store.listServiceAccounts()])
    const next = new Map<string, KnownPrincipal>()
    for (const u of users) next.set(u.uid, { kind: 'user', uid: u.uid, email: u.email, disabled: u.disabled })
    for (const a of accounts) next.set(a.uid, { kind: 'serviceAccount', uid: a.uid, email: a.email, disabled: a.disabled })
    this.principals = next
  }

  private async reloadGroups(): Promise<void> {
    const [groups, memberships] = await Promise.all([this.store.listGroups(), this.store.listMemberships()])
    const members = new Map<string, Set<Member>>(groups.map((g) => [g.email, new Set<Member>()]))
    for (const m of memberships) members.get(m.group)?.add(m.member as Member)
    this.groupIndex = new GroupIndex(members)
  }

  /** Pools and providers are few; any change to one re-reads them all. */
  private async reloadWorkforce(): Promise<void> {
    const [pools, providers] = await Promise.all([this.store.listWorkforcePools(), this.store.listWorkforceProviders()])
    this.pools = new Map(pools.map((p) => [p.poolId, p]))
    this.providers = new Map(providers.map((p) => [`${p.poolId}/${p.providerId}`, p]))
  }

  workforcePool(poolId: string): WorkforcePoolRecord | undefined {
    return this.pools.get(poolId)
  }

  workforceProvider(poolId: string, providerId: string): WorkforceProviderRecord | undefined {
    return this.providers.get(`${poolId}/${providerId}`)
  }

  /** Enabled providers of enabled pools offered on the sign-in page, in name order. */
  consoleSignInProviders(): WorkforceProviderRecord[] {
    return [...this.providers.values()].filter((p) => p.consoleSignIn && !p.disabled && this.pools.get(p.poolId)?.disabled === false)
  }

  /**
   * Why a federated principal's token no longer authenticates, or undefined when it does: its
   * pool and the provider that signed it in must exist — the same ones, by uid, not others
   * re-created under their ids — and be enabled. Checked per request, so disabling or deleting
   * either stops its tokens as soon as the change feed delivers it.
   */
  federationProblem(claim: { pool: string; pool_uid: string; provider: string; provider_uid: string }): string | undefined {
    const pool = this.pools.get(claim.pool)
    if (!pool || pool.uid !== claim.pool_uid) return `The workforce pool ${claim.pool} this token was issued for no longer exists.`
    if (pool.disabled) return `The workforce pool ${claim.pool} is disabled.`
    const provider = this.providers.get(`${claim.pool}/${claim.provider}`)
    if (!provider || provider.uid !== claim.provider_uid) return `The provider ${providerName(claim.pool, claim.provider)} this token was issued through no longer exists.`
    if (provider.disabled) return `The provider ${providerName(claim.pool, claim.provider)} is disabled.`
    return undefined
  }

  service(projectId: string, serviceId: string): ServiceRecord | undefined {
    return this.services.get(key(projectId, serviceId))
  }

  allServices(): IterableIterator<ServiceRecord> {
    return this.services.values()
  }

  /** The compiled policies of a resource and its ancestors, nearest first. */
  policyChain(resource: string): CompiledPolicy[] {
    return this.policyChainOf(lineage(resource))
  }

  /** As policyChain, for a lineage computed once (the gateway's route table). */
  policyChainOf(names: readonly string[]): CompiledPolicy[] {
    const chain: CompiledPolicy[] = []
    for (const name of names) {
      const p = this.policies.get(name)
      if (p) chain.push(p)
    }
    return chain
  }

  /**
   * Changes whenever any policy this resource inherits changes: versions come from one counter
   * that only grows, and removed policies leave a newer empty one behind, so the maximum moves.
   */
  chainVersion(names: readonly string[]): number {
    let max = 0
    for (const name of names) max = Math.max(max, this.policies.get(name)?.version ?? 0)
    return max
  }

  principal(uid: string): KnownPrincipal | undefined {
    return this.principals.get(uid)
  }

  get groups(): GroupIndex {
    return this.groupIndex
  }
}

const key = (projectId: string, serviceId: string) => `${projectId}/${serviceId}`

