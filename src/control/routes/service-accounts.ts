import { generateKeyPair, randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import * as z from 'zod'
import { description, displayName } from '../../core/display-text.js'
import { PosternError, invalid, notFound } from '../../core/errors.js'
import { newUid } from '../../core/ids.js'
import { parseWith } from '../../core/validate.js'
import { withinMask } from '../update-mask.js'
import { parseEmail } from '../../iam/members.js'
import { parseProjectId, projectName, serviceAccountName } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import { assertProjectExists } from './projects.js'
import type { ServiceAccountKeyRecord, ServiceAccountRecord } from '../../store/records.js'
import type { StoreTx } from '../../store/store.js'
import { allowRead, allowWrite, mutate, ok, rfc3339, type Handler, type RequestContext } from '../handler.js'
import { retireIdentity } from '../retire-identity.js'
import { tokenEndpoint } from '../../identity/endpoints.js'

const generateRsaKeyPair = promisify(generateKeyPair)

const ACCOUNT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/
export const SA_DOMAIN = 'iam.postern.internal'

// A description is prose, as a service's is; Google caps it at 256.
const Fields = { displayName: displayName(100), description: description(256) }
const CreateAccount = z.strictObject({ accountId: z.string().max(64), ...Fields }).partial({ displayName: true, description: true })
const UpdateAccount = z.strictObject(Fields).partial()

const view = (a: ServiceAccountRecord) => ({
  name: serviceAccountName(a.projectId, a.email),
  projectId: a.projectId,
  email: a.email,
  uniqueId: a.uid,
  displayName: a.displayName,
  description: a.description,
  disabled: a.disabled,
  createTime: rfc3339(a.createTime),
})

const keyView = (k: ServiceAccountKeyRecord, projectId: string) => ({
  name: `${serviceAccountName(projectId, k.serviceAccountEmail)}/keys/${k.keyId}`,
  keyId: k.keyId,
  keyAlgorithm: 'KEY_ALG_RSA_2048',
  keyType: 'USER_MANAGED',
  validAfterTime: rfc3339(k.createTime),
})

/** The project of a service account follows from its email, so access is checked before existence is revealed. */
export function projectOfAccount(email: string): string {
  const m = new RegExp(`^[^@]+@([a-z][a-z0-9-]{4,28}[a-z0-9])\\.${SA_DOMAIN.replace(/\./g, '\\.')}$`).exec(email)
  if (!m) throw invalid(`'${email}' is not a Postern service account email (NAME@PROJECT.${SA_DOMAIN}).`)
  return m[1]!
}

/** The service account a request's path names, checked for form; its existence is checked after authorization. */
export function account(c: RequestContext) {
  const email = parseEmail(c.params.email!, 'service account email')
  const projectId = c.params.project === '-' ? projectOfAccount(email) : parseProjectId(c.params.project)
  if (projectOfAccount(email) !== projectId) throw notFound(`Service account '${email}' not found in project '${projectId}'.`)
  return { email, projectId, resource: serviceAccountName(projectId, email) }
}

export async function existing(tx: StoreTx, email: string): Promise<ServiceAccountRecord> {
  const a = await tx.getServiceAccount(email)
  if (!a) throw notFound(`Service account '${email}' not found.`)
  return a
}

export function serviceAccountRoutes(r: Router<Handler>): void {
  const base = '/v1/projects/{project}/serviceAccounts'

  r.add('GET', base, async (c) => {
    const projectId = parseProjectId(c.params.project)
    allowRead(c, 'iam.serviceAccounts.list', projectName(projectId))
    await assertProjectExists(c.deps.store, projectId)
    return ok({ accounts: (await c.deps.store.listServiceAccounts(projectId)).map(view) })
  })

  r.add('POST', base, async (c) => {
    const projectId = parseProjectId(c.params.project)
    const body = parseWith(CreateAccount, await c.json())
    if (!ACCOUNT_ID.test(body.accountId)) throw invalid(`accountId '${body.accountId}': 6–30 lowercase letters, digits and hyphens, starting with a letter.`)
    const email = `${body.accountId}@${projectId}.${SA_DOMAIN}`
    const record: ServiceAccountRecord = { projectId, email, uid: newUid(), displayName: body.displayName ?? '', description: body.description ?? '', disabled: false, createTime: c.deps.clock() }
    await mutate(c, { method: 'serviceAccounts.create', resource: serviceAccountName(projectId, email), permission: 'iam.serviceAccounts.create', checkOn: projectName(projectId) }, async (tx) => {
      if (!(await tx.getProject(projectId))) throw notFound(`Project '${projectId}' not found.`)
      if (!(await tx.insertServiceAccount(record))) throw new PosternError('ALREADY_EXISTS', `Service account '${email}' already exists.`)
      await tx.deletePolicy(serviceAccountName(projectId, email))
      await tx.recordChange('serviceAccount', email)
      await tx.recordChange('policy', serviceAccountName(projectId, email))
    })
    return ok(view(record))
  })

  r.add('GET', `${base}/{email}`, async (c) => {
    const a = account(c)
    allowRead(c, 'iam.serviceAccounts.get', a.resource)
    return ok(view(await existing(c.deps.store, a.email)))
  })

  r.add('PATCH', `${base}/{email}`, async (c) => {
    const a = account(c)
    const patch = withinMask(parseWith(UpdateAccount, await c.json()), c.query.get('updateMask'), Object.keys(Fields))
    const updated = await mutate(c, { method: 'serviceAccounts.update', resource: a.resource, permission: 'iam.serviceAccounts.update', details: { fields: Object.keys(patch) } }, async (tx) => {
      const record = await existing(tx, a.email)
      const next: ServiceAccountRecord = { ...record, displayName: patch.displayName ?? record.displayName, description: patch.description ?? record.description }
      await tx.updateServiceAccount(next)
      await tx.recordChange('serviceAccount', a.email)
      return next
    })
    return ok(view(updated))
  })

  r.add('DELETE', `${base}/{email}`, async (c) => {
    const a = account(c)
    await mutate(c, { method: 'serviceAccounts.delete', resource: a.resource, permission: 'iam.serviceAccounts.delete' }, async (tx) => {
      const record = await existing(tx, a.email)
      await tx.deleteServiceAccount(a.email)
      await tx.deletePolicy(a.resource)
      await retireIdentity(tx, 'serviceAccount', a.email, record.uid)
      await tx.recordChange('serviceAccount', a.email)
      await tx.recordChange('policy', a.resource)
    })
    return ok({})
  })

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    r.add('POST', `${base}/{email}:${verb}`, async (c) => {
      const a = account(c)
      await mutate(c, { method: `serviceAccounts.${verb}`, resource: a.resource, permission: 'iam.serviceAccounts.update' }, async (tx) => {
        const record = await existing(tx, a.email)
        await tx.updateServiceAccount({ ...record, disabled })
        if (disabled) await tx.revokeRefreshTokensOf(record.uid)
        await tx.recordChange('serviceAccount', a.email)
      })
      return ok({})
    })
  }

  r.add('GET', `${base}/{email}/keys`, async (c) => {
    const a = account(c)
    allowRead(c, 'iam.serviceAccountKeys.list', a.resource)
    await existing(c.deps.store, a.email)
    return ok({ keys: (await c.deps.store.listServiceAccountKeys(a.email)).map((k) => keyView(k, a.projectId)) })
  })

  r.add('POST', `${base}/{email}/keys`, async (c) => {
    const a = account(c)
    await c.json()
    const keyId = randomBytes(20).toString('hex')
    const op = { method: 'serviceAccountKeys.create', resource: a.resource, permission: 'iam.serviceAccountKeys.create', details: { keyId } }
    // A 2048-bit RSA key costs ~100 ms of CPU: only a caller who may have it makes Postern work
    // for it, and the work is done off the event loop, which every request shares.
    allowWrite(c, op)
    const { publicKey, privateKey } = await generateRsaKeyPair('rsa', { modulusLength: 2048 })
    const key: ServiceAccountKeyRecord = {
      keyId,
      serviceAccountEmail: a.email,
      publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      createTime: c.deps.clock(),
    }
    const record = await mutate(c, op, async (tx) => {
      const sa = await existing(tx, a.email)
      await tx.insertServiceAccountKey(key)
      await tx.recordChange('serviceAccount', a.email)
      return sa
    })
    // The private key exists only in this response (Google's key-file layout, DESIGN §3).
    const keyFile = {
      type: 'service_account',
      project_id: a.projectId,
      private_key_id: key.keyId,
      private_key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      client_email: a.email,
      client_id: record.uid,
      token_uri: tokenEndpoint(c.deps.settings.issuer),
    }
    return ok({ ...keyView(key, a.projectId), privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE', privateKeyData: Buffer.from(JSON.stringify(keyFile, null, 2)).toString('base64') })
  })

  r.add('DELETE', `${base}/{email}/keys/{keyId}`, async (c) => {
    const a = account(c)
    await mutate(c, { method: 'serviceAccountKeys.delete', resource: a.resource, permission: 'iam.serviceAccountKeys.delete', details: { keyId: c.params.keyId } }, async (tx) => {
      const key = await tx.getServiceAccountKey(c.params.keyId!)
      if (!key || key.serviceAccountEmail !== a.email) throw notFound(`Key '${c.params.keyId}' not found for ${a.email}.`)
      await tx.deleteServiceAccountKey(key.keyId)
      await tx.recordChange('serviceAccount', a.email)
    })
    return ok({})
  })
}
