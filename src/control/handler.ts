import type { IncomingMessage, ServerResponse } from 'node:http'
import { PosternError } from '../core/errors.js'
import type { Permission } from '../iam/roles.js'
import type { StoreTx } from '../store/store.js'
import { authorize } from './access.js'
import type { Caller } from './caller.js'
import type { ControlDeps } from './deps.js'

/** One request as handlers see it: parameters, lazily parsed input, the caller (authenticated before a non-anonymous handler runs). */
export interface RequestContext {
  req: IncomingMessage
  res: ServerResponse
  params: Record<string, string>
  query: URLSearchParams
  deps: ControlDeps
  caller(): Caller
  json(): Promise<Record<string, unknown>>
}

/** A handler returns the JSON to send (status 200 unless given), or 'sent' when it wrote the response itself. */
export type Reply = { status?: number; body: unknown; headers?: Record<string, string> } | 'sent'
/** `anonymous`: a route anyone may call (see `anonymous` in server.ts); every other route authenticates first. */
export type Handler = ((c: RequestContext) => Promise<Reply>) & { readonly anonymous?: true }

export const ok = (body: unknown, status = 200): Reply => ({ status, body })

/** A second permission a write needs on the same resource, and why (said in the refusal). */
export interface AlsoNeeded {
  permission: Permission
  because: string
}

export interface WriteOp {
  method: string
  resource: string
  permission: Permission
  checkOn?: string
  also?: AlsoNeeded
  details?: Record<string, unknown>
}

/**
 * Authorizes, then runs a write in one transaction together with its audit entry; a denial is
 * audited too. Resolves after this process's caches have taken the change in.
 */
export async function mutate<T>(c: RequestContext, op: WriteOp, write: (tx: StoreTx) => Promise<T>): Promise<T> {
  const caller = allowWrite(c, op)
  const { store, clock, sync } = c.deps
  const result = await store.transaction(async (tx) => {
    const value = await write(tx)
    await tx.appendAudit({ time: clock(), principal: caller.member, method: op.method, resource: op.resource, outcome: 'OK', details: { ...op.details } })
    return value
  })
  await sync()
  return result
}

/**
 * The permission checks of a write, alone (mutate makes them again): for a write whose input
 * costs work to prepare — a password's scrypt holds a thread for ~100 ms — made before that work,
 * so that a caller without the permission cannot make Postern do it. A denial is audited.
 */
export function allowWrite(c: RequestContext, op: WriteOp): Caller {
  const caller = c.caller()
  const { directory, clock } = c.deps
  const target = op.checkOn ?? op.resource
  let checking = op.permission
  try {
    authorize(directory, caller, op.permission, target, clock())
    if (op.also) {
      checking = op.also.permission
      authorize(directory, caller, op.also.permission, target, clock(), op.also.because)
    }
  } catch (err) {
    c.deps.refusals.record({ time: clock(), principal: caller.member, method: op.method, resource: op.resource, outcome: 'PERMISSION_DENIED', details: { ...op.details, permission: checking } })
    throw err
  }
  return caller
}

/** Reads need only the permission check; a refused one is audited like a refused write. `because` says why, in the refusal. */
export function allowRead(c: RequestContext, permission: Permission, resource: string, because?: string): Caller {
  const caller = c.caller()
  const now = c.deps.clock()
  try {
    authorize(c.deps.directory, caller, permission, resource, now, because)
  } catch (err) {
    c.deps.refusals.record({ time: now, principal: caller.member, method: permission, resource, outcome: 'PERMISSION_DENIED', details: { permission } })
    throw err
  }
  return caller
}

export function pageSize(query: URLSearchParams, fallback = 100, max = 1000): number {
  const raw = query.get('pageSize')
  if (raw === null) return fallback
  const n = Number(raw)
  if (!/^\d{1,6}$/.test(raw) || n < 1) throw new PosternError('INVALID_ARGUMENT', `pageSize must be a positive integer, got '${raw.slice(0, 20)}'.`)
  return Math.min(n, max)
}

export const rfc3339 = (ms: number) => new Date(ms).toISOString()
