import * as z from 'zod'
import { description, displayName } from '../../core/display-text.js'
import { PosternError, notFound } from '../../core/errors.js'
import { newUid } from '../../core/ids.js'
import { parseWith } from '../../core/validate.js'
import { parseAttributeCondition, parseAttributeMapping } from '../../identity/federation/attribute-mapping.js'
import {
  SESSION_SECONDS, parseClientId, parseIssuerUri, parseJwksJson, parsePoolId, parseProviderId, parseSessionDuration, poolName, providerAudience, providerName,
} from '../../identity/federation/workforce-names.js'
import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { WorkforcePoolRecord, WorkforceProviderRecord } from '../../store/records.js'
import type { StoreTx } from '../../store/store.js'
import { allowRead, mutate, ok, rfc3339, type Handler } from '../handler.js'

/**
 * Workforce pools and their OIDC providers: /v1/workforcePools[/{pool}[/providers[/{provider}]]],
 * authorized with iam.workforcePools.* on the organization. Every write records a
 * 'workforcePool' change, so each process's directory — and so each gateway — knows at once
 * when a pool or provider is disabled or gone.
 */
const PoolFields = {
  displayName: displayName(100),
  description: description(512),
  sessionDuration: z.union([z.string().max(20), z.number()]),
  disabled: z.boolean(),
}
/** Every pool field is optional, on create (defaults) as on update (a patch). */
const PoolBody = z.strictObject(PoolFields).partial()

const Oidc = z.strictObject({ issuerUri: z.string().max(2048), clientId: z.string().max(255), jwksJson: z.string().max(65_536).nullable().optional() })
const ProviderFields = {
  displayName: displayName(100),
  description: description(512),
  oidc: Oidc,
  attributeMapping: z.record(z.string().max(120), z.string()),
  attributeCondition: z.string(),
  disabled: z.boolean(),
  consoleSignIn: z.boolean(),
}
/** A provider needs its OIDC settings and an attribute mapping; the rest has defaults. */
const CreateProvider = z.strictObject(ProviderFields).partial({ displayName: true, description: true, attributeCondition: true, disabled: true, consoleSignIn: true })
const UpdateProvider = z.strictObject({ ...ProviderFields, oidc: Oidc.partial() }).partial()

const OUTPUT_ONLY = ['name', 'uid', 'state', 'audience', 'createTime', 'updateTime']
const withoutOutputOnly = (body: Record<string, unknown>) => Object.fromEntries(Object.entries(body).filter(([k]) => !OUTPUT_ONLY.includes(k)))

export const poolView = (p: WorkforcePoolRecord) => ({
  name: poolName(p.poolId),
  uid: p.uid,
  displayName: p.displayName,
  description: p.description,
  sessionDuration: `${p.sessionDurationSeconds}s`,
  disabled: p.disabled,
  state: 'ACTIVE',
  createTime: rfc3339(p.createTime),
  updateTime: rfc3339(p.updateTime),
})

export const providerView = (p: WorkforceProviderRecord) => ({
  name: providerName(p.poolId, p.providerId),
  uid: p.uid,
  displayName: p.displayName,
  description: p.description,
  oidc: { issuerUri: p.issuerUri, clientId: p.clientId, ...(p.jwksJson && { jwksJson: p.jwksJson }) },
  attributeMapping: p.attributeMapping,
  ...(p.attributeCondition && { attributeCondition: p.attributeCondition }),
  disabled: p.disabled,
  consoleSignIn: p.consoleSignIn,
  audience: providerAudience(p.poolId, p.providerId),
  state: 'ACTIVE',
  createTime: rfc3339(p.createTime),
  updateTime: rfc3339(p.updateTime),
})

async function existingPool(tx: StoreTx, poolId: string): Promise<WorkforcePoolRecord> {
  const pool = await tx.getWorkforcePool(poolId)
  if (!pool) throw notFound(`Workforce pool '${poolId}' not found.`)
  return pool
}

async function existingProvider(tx: StoreTx, poolId: string, providerId: string): Promise<WorkforceProviderRecord> {
  const provider = await tx.getWorkforceProvider(poolId, providerId)
  if (!provider) throw notFound(`Provider '${providerName(poolId, providerId)}' not found.`)
  return provider
}

/**
 * Ends every sign-in of the pool's subjects, or only of those one provider signed in (they sign
 * in again, or not, through an enabled pool and provider).
 */
async function endSignIns(tx: StoreTx, poolId: string, provider?: WorkforceProviderRecord): Promise<void> {
  for (const s of await tx.listFederatedSubjects(poolId, provider?.uid)) {
    await tx.revokeRefreshTokensOf(s.uid)
    await tx.deleteSessionsOf(s.uid)
  }
}

export function workforcePoolRoutes(r: Router<Handler>): void {
  const base = '/v1/workforcePools'

  r.add('GET', base, async (c) => {
    allowRead(c, 'iam.workforcePools.list', ORGANIZATION)
    return ok({ workforcePools: (await c.deps.store.listWorkforcePools()).map(poolView) })
  })

  r.add('POST', base, async (c) => {
    const poolId = parsePoolId(c.query.get('workforcePoolId') ?? undefined)
    const body = parseWith(PoolBody, withoutOutputOnly(await c.json()))
    const now = c.deps.clock()
    const pool: WorkforcePoolRecord = {
      poolId,
      uid: newUid(),
      displayName: body.displayName ?? '',
      description: body.description ?? '',
      sessionDurationSeconds: body.sessionDuration === undefined ? SESSION_SECONDS.default : parseSessionDuration(body.sessionDuration),
      disabled: body.disabled ?? false,
      createTime: now,
      updateTime: now,
    }
    await mutate(c, { method: 'workforcePools.create', resource: poolName(poolId), permission: 'iam.workforcePools.create', checkOn: ORGANIZATION }, async (tx) => {
      if (!(await tx.insertWorkforcePool(pool))) throw new PosternError('ALREADY_EXISTS', `Workforce pool '${poolId}' already exists.`)
      await tx.recordChange('workforcePool', poolId)
    })
    return ok(poolView(pool))
  })

  r.add('GET', `${base}/{pool}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    allowRead(c, 'iam.workforcePools.get', ORGANIZATION)
    return ok(poolView(await existingPool(c.deps.store, poolId)))
  })

  r.add('PATCH', `${base}/{pool}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    const patch = parseWith(PoolBody, withoutOutputOnly(await c.json()))
    const sessionDurationSeconds = patch.sessionDuration === undefined ? undefined : parseSessionDuration(patch.sessionDuration)
    const updated = await mutate(c, { method: 'workforcePools.update', resource: poolName(poolId), permission: 'iam.workforcePools.update', checkOn: ORGANIZATION, details: patch }, async (tx) => {
      const pool = await existingPool(tx, poolId)
      const next: WorkforcePoolRecord = {
        ...pool,
        displayName: patch.displayName ?? pool.displayName,
        description: patch.description ?? pool.description,
        sessionDurationSeconds: sessionDurationSeconds ?? pool.sessionDurationSeconds,
        disabled: patch.disabled ?? pool.disabled,
        updateTime: c.deps.clock(),
      }
      await tx.updateWorkforcePool(next)
      // Disabling stops the pool's tokens at once (the directory) and its sign-ins for good.
      if (next.disabled && !pool.disabled) await endSignIns(tx, poolId)
      await tx.recordChange('workforcePool', poolId)
      return next
    })
    return ok(poolView(updated))
  })

  r.add('DELETE', `${base}/{pool}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    await mutate(c, { method: 'workforcePools.delete', resource: poolName(poolId), permission: 'iam.workforcePools.delete', checkOn: ORGANIZATION }, async (tx) => {
      await existingPool(tx, poolId)
      await endSignIns(tx, poolId)
      await tx.deleteWorkforcePool(poolId)
      await tx.recordChange('workforcePool', poolId)
    })
    return ok({})
  })

  r.add('GET', `${base}/{pool}/providers`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    allowRead(c, 'iam.workforcePools.list', ORGANIZATION)
    await existingPool(c.deps.store, poolId)
    return ok({ workforcePoolProviders: (await c.deps.store.listWorkforceProviders(poolId)).map(providerView) })
  })

  r.add('POST', `${base}/{pool}/providers`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    const providerId = parseProviderId(c.query.get('workforcePoolProviderId') ?? undefined)
    const body = parseWith(CreateProvider, withoutOutputOnly(await c.json()))
    const now = c.deps.clock()
    const provider: WorkforceProviderRecord = {
      poolId,
      providerId,
      uid: newUid(),
      displayName: body.displayName ?? '',
      description: body.description ?? '',
      issuerUri: parseIssuerUri(body.oidc.issuerUri),
      clientId: parseClientId(body.oidc.clientId),
      jwksJson: body.oidc.jwksJson ? parseJwksJson(body.oidc.jwksJson) : null,
      attributeMapping: parseAttributeMapping(body.attributeMapping),
      attributeCondition: parseAttributeCondition(body.attributeCondition),
      disabled: body.disabled ?? false,
      consoleSignIn: body.consoleSignIn ?? false,
      createTime: now,
      updateTime: now,
    }
    const name = providerName(poolId, providerId)
    await mutate(c, { method: 'workforcePoolProviders.create', resource: name, permission: 'iam.workforcePools.update', checkOn: ORGANIZATION }, async (tx) => {
      await existingPool(tx, poolId)
      if (!(await tx.insertWorkforceProvider(provider))) throw new PosternError('ALREADY_EXISTS', `Provider '${name}' already exists.`)
      await tx.recordChange('workforcePool', `${poolId}/providers/${providerId}`)
    })
    return ok(providerView(provider))
  })

  r.add('GET', `${base}/{pool}/providers/{provider}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    const providerId = parseProviderId(c.params.provider)
    allowRead(c, 'iam.workforcePools.get', ORGANIZATION)
    return ok(providerView(await existingProvider(c.deps.store, poolId, providerId)))
  })

  r.add('PATCH', `${base}/{pool}/providers/{provider}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    const providerId = parseProviderId(c.params.provider)
    const patch = parseWith(UpdateProvider, withoutOutputOnly(await c.json()))
    const checked = {
      issuerUri: patch.oidc?.issuerUri === undefined ? undefined : parseIssuerUri(patch.oidc.issuerUri),
      clientId: patch.oidc?.clientId === undefined ? undefined : parseClientId(patch.oidc.clientId),
      jwksJson: patch.oidc?.jwksJson === undefined ? undefined : patch.oidc.jwksJson === null || patch.oidc.jwksJson === '' ? null : parseJwksJson(patch.oidc.jwksJson),
      attributeMapping: patch.attributeMapping === undefined ? undefined : parseAttributeMapping(patch.attributeMapping),
      attributeCondition: patch.attributeCondition === undefined ? undefined : parseAttributeCondition(patch.attributeCondition),
    }
    const name = providerName(poolId, providerId)
    const updated = await mutate(c, { method: 'workforcePoolProviders.update', resource: name, permission: 'iam.workforcePools.update', checkOn: ORGANIZATION, details: { fields: Object.keys(patch) } }, async (tx) => {
      const current = await existingProvider(tx, poolId, providerId)
      const next: WorkforceProviderRecord = {
        ...current,
        displayName: patch.displayName ?? current.displayName,
        description: patch.description ?? current.description,
        issuerUri: checked.issuerUri ?? current.issuerUri,
        clientId: checked.clientId ?? current.clientId,
        jwksJson: checked.jwksJson === undefined ? current.jwksJson : checked.jwksJson,
        attributeMapping: checked.attributeMapping ?? current.attributeMapping,
        attributeCondition: checked.attributeCondition ?? current.attributeCondition,
        disabled: patch.disabled ?? current.disabled,
        consoleSignIn: patch.consoleSignIn ?? current.consoleSignIn,
        updateTime: c.deps.clock(),
      }
      await tx.updateWorkforceProvider(next)
      // As for a pool: disabling stops the provider's tokens at once and ends its sign-ins for good.
      if (next.disabled && !current.disabled) await endSignIns(tx, poolId, current)
      await tx.recordChange('workforcePool', `${poolId}/providers/${providerId}`)
      return next
    })
    return ok(providerView(updated))
  })

  r.add('DELETE', `${base}/{pool}/providers/{provider}`, async (c) => {
    const poolId = parsePoolId(c.params.pool)
    const providerId = parseProviderId(c.params.provider)
    const name = providerName(poolId, providerId)
    await mutate(c, { method: 'workforcePoolProviders.delete', resource: name, permission: 'iam.workforcePools.update', checkOn: ORGANIZATION }, async (tx) => {
      await endSignIns(tx, poolId, await existingProvider(tx, poolId, providerId))
      await tx.deleteWorkforceProvider(poolId, providerId)
      await tx.recordChange('workforcePool', `${poolId}/providers/${providerId}`)
    })
    return ok({})
  })
}
