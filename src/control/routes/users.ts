import * as z from 'zod'
import { displayName } from '../../core/display-text.js'
import { PosternError, invalid, notFound } from '../../core/errors.js'
import { newUid, randomToken, sha256 } from '../../core/ids.js'
import { parseWith } from '../../core/validate.js'
import { hashPassword, passwordProblem } from '../../identity/passwords.js'
import { readCookie, sessionCookieName } from '../../identity/sessions.js'
import { signInWithPassword } from '../../identity/sign-in.js'
import { parseEmail } from '../../iam/members.js'
import { leavesNoOwner } from '../../iam/owners.js'
import { ORGANIZATION } from '../../iam/resources.js'
import type { Router } from '../../http/router.js'
import type { UserRecord } from '../../store/records.js'
import type { StoreTx } from '../../store/store.js'
import { allowRead, allowWrite, mutate, ok, rfc3339, type Handler, type RequestContext } from '../handler.js'
import { requestClientAddress } from '../../http/client-address.js'
import { retireIdentity } from '../retire-identity.js'

const CreateUser = z.strictObject({ email: z.string().max(254), password: z.string().optional(), displayName: displayName(100).optional() })
const UpdateUser = z.strictObject({ disabled: z.boolean().optional(), displayName: displayName(100).optional() })
const SetPassword = z.strictObject({ password: z.string(), currentPassword: z.string().optional() })

export const userView = (u: UserRecord) => ({
  name: `users/${u.email}`,
  email: u.email,
  uid: u.uid,
  displayName: u.displayName,
  disabled: u.disabled,
  hasPassword: u.passwordHash !== null,
  createTime: rfc3339(u.createTime),
})

const userResource = (email: string) => `users/${email}`

function checkedPassword(password: string): string {
  const problem = passwordProblem(password)
  if (problem) throw invalid(problem)
  return password
}

async function existingUser(tx: StoreTx, email: string): Promise<UserRecord> {
  const user = await tx.getUser(email)
  if (!user) throw notFound(`User '${email}' not found.`)
  return user
}

/**
 * A new password ends the account's other sign-ins: every refresh token (the CLI's too) and every
 * console session, except `keepSessionHash`, so that whoever knew the old password is out.
 */
async function endSignIns(tx: StoreTx, uid: string, keepSessionHash: string | undefined): Promise<void> {
  await tx.revokeRefreshTokensOf(uid)
  const kept = keepSessionHash ? await tx.getSession(keepSessionHash) : undefined
  await tx.deleteSessionsOf(uid)
  if (kept?.subjectUid === uid) await tx.insertSession(kept)
}

/**
 * The console session a request came with (authenticated by cookie, not by a bearer token). A
 * self-service change made in the console keeps it: the person at that browser has just typed
 * the current password, and signing them out of the page they are using would only make them
 * type the new one at once; every other session and token, where someone else may be, ends.
 */
function consoleSessionHash(c: RequestContext): string | undefined {
  if (c.req.headers.authorization !== undefined) return undefined
  const cookie = readCookie(c.req.headers.cookie, sessionCookieName(c.deps.settings.secureCookies))
  return cookie ? sha256(cookie) : undefined
}

/**
 * Changing your own password asks for the current one, as a sign-in does and under the same
 * limits: a stolen token or an unattended console is not enough to take the account over.
 */
async function checkCurrentPassword(c: RequestContext, email: string, current: string | undefined): Promise<void> {
  if (current === undefined || current === '') {
    throw invalid('Changing your own password needs your current password (currentPassword). With the CLI, send it first and the new one second, on two lines of standard input.')
  }
  const result = await signInWithPassword(c.deps.store, { email, password: current, address: requestClientAddress(c.req, c.deps.settings.trustedProxies), now: c.deps.clock() })
  if (!result.ok) {
    await c.deps.store.appendAudit({ time: c.deps.clock(), principal: c.caller().member, method: 'users.setPassword', resource: userResource(email), outcome: 'PERMISSION_DENIED', details: { self: true, reason: 'wrong current password' } })
    throw new PosternError('PERMISSION_DENIED', 'The current password is wrong; the password was not changed.')
  }
}

export function userRoutes(r: Router<Handler>): void {
  r.add('GET', '/v1/users', async (c) => {
    allowRead(c, 'postern.users.list', ORGANIZATION)
    return ok({ users: (await c.deps.store.listUsers()).map(userView) })
  })

  r.add('POST', '/v1/users', async (c) => {
    const body = parseWith(CreateUser, await c.json())
    const email = parseEmail(body.email)
    const generated = body.password === undefined ? randomToken(15) : undefined
    const op = { method: 'users.create', resource: userResource(email), permission: 'postern.users.create', checkOn: ORGANIZATION } as const
    // Allowed before the password is hashed: scrypt's work is not anyone's to ask for.
    allowWrite(c, op)
    const passwordHash = await hashPassword(generated ?? checkedPassword(body.password!))
    const now = c.deps.clock()
    const user: UserRecord = { email, uid: newUid(), displayName: body.displayName ?? '', passwordHash, disabled: false, createTime: now, updateTime: now }
    await mutate(c, op, async (tx) => {
      if (!(await tx.insertUser(user))) throw new PosternError('ALREADY_EXISTS', `User '${email}' already exists.`)
      await tx.recordChange('user', email)
    })
    return ok(generated ? { ...userView(user), password: generated } : userView(user))
  })

  r.add('GET', '/v1/users/{email}', async (c) => {
    const email = parseEmail(c.params.email!)
    allowRead(c, 'postern.users.get', ORGANIZATION)
    return ok(userView(await existingUser(c.deps.store, email)))
  })

  r.add('PATCH', '/v1/users/{email}', async (c) => {
    const email = parseEmail(c.params.email!)
    const patch = parseWith(UpdateUser, await c.json())
    const updated = await mutate(c, { method: 'users.update', resource: userResource(email), permission: 'postern.users.update', checkOn: ORGANIZATION, details: patch }, async (tx) => {
      const user = await existingUser(tx, email)
      const next = { ...user, ...patch, updateTime: c.deps.clock() }
      if (next.disabled && !user.disabled) await refuseLastOwner(tx, email, 'disabled')
      await tx.updateUser(next)
      // A disabled account stops at once: no refresh, no console session (DESIGN §4).
      if (next.disabled && !user.disabled) {
        await tx.revokeRefreshTokensOf(user.uid)
        await tx.deleteSessionsOf(user.uid)
      }
      await tx.recordChange('user', email)
      return next
    })
    return ok(userView(updated))
  })

  r.add('POST', '/v1/users/{email}:setPassword', async (c) => {
    const email = parseEmail(c.params.email!)
    const { password, currentPassword } = parseWith(SetPassword, await c.json())
    const self = c.caller().member === `user:${email}`
    const op = { method: 'users.setPassword', resource: userResource(email), permission: 'postern.users.update', checkOn: ORGANIZATION } as const
    // Anyone may change their own password, knowing the current one; changing another's needs
    // postern.users.update and ends every sign-in of that account. Either is established before
    // the new password is hashed: scrypt's work is not anyone's to ask for.
    if (self) {
      checkedPassword(password) // a new password that breaks the rules costs no check of the current one
      await checkCurrentPassword(c, email, currentPassword)
    } else {
      allowWrite(c, op)
    }
    const hash = await hashPassword(checkedPassword(password))
    const write = (keep: string | undefined) => async (tx: StoreTx) => {
      const user = await existingUser(tx, email)
      await tx.updateUser({ ...user, passwordHash: hash, updateTime: c.deps.clock() })
      await endSignIns(tx, user.uid, keep)
      await tx.recordChange('user', email)
    }
    if (self) {
      await c.deps.store.transaction(async (tx) => {
        await write(consoleSessionHash(c))(tx)
        await tx.appendAudit({ time: c.deps.clock(), principal: c.caller().member, method: op.method, resource: op.resource, outcome: 'OK', details: { self: true } })
      })
      await c.deps.sync()
    } else {
      await mutate(c, op, write(undefined))
    }
    return ok({})
  })

  r.add('DELETE', '/v1/users/{email}', async (c) => {
    const email = parseEmail(c.params.email!)
    await mutate(c, { method: 'users.delete', resource: userResource(email), permission: 'postern.users.delete', checkOn: ORGANIZATION }, async (tx) => {
      const user = await existingUser(tx, email)
      await refuseLastOwner(tx, email, 'deleted')
      await tx.deleteUser(email)
      await retireIdentity(tx, 'user', email, user.uid)
      await tx.recordChange('user', email)
    })
    return ok({})
  })
}

/** The organization's last standing owner's account cannot go: nobody could administer Postern after it (iam/owners.ts). */
async function refuseLastOwner(tx: StoreTx, email: string, what: 'deleted' | 'disabled'): Promise<void> {
  const organization = (await tx.getPolicy(ORGANIZATION))?.policy
  if (leavesNoOwner(organization, organization, `user:${email}`)) {
    throw new PosternError('FAILED_PRECONDITION', `${email} is the organization's only owner and cannot be ${what}: grant roles/owner on the organization (/v1/organizations/local) to another account first.`)
  }
}
