import { sameBindings } from './binding-edits.js'
import type { Policy } from './types.js'

/**
 * The one retry loop for writes guarded by an etag (DESIGN §1, §6): when another writer got there
 * first the server answers ABORTED, and the whole read-change-write starts over after an
 * exponential, jittered pause, so concurrent edits never lose a change. Used by the CLI, the
 * console and the server's own policy edits (access grants, the sweep).
 */
export interface RetryOptions {
  /** How many tries in all before the conflict is reported. */
  attempts?: number
  /** The first pause; each next one doubles, up to `maxPauseMs`, each times 0.5–1.5 at random. */
  firstPauseMs?: number
  maxPauseMs?: number
  sleep?: (ms: number) => Promise<void>
}

/** Twenty writers racing for one policy each win within twenty tries; sixty leave room to spare. */
const DEFAULTS: Required<RetryOptions> = { attempts: 60, firstPauseMs: 20, maxPauseMs: 2_000, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }

/** An error of any of the three callers that says "someone else wrote first": its status is ABORTED. */
export function isConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 'ABORTED'
}

export async function retryOnConflict<T>(attempt: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const o = { ...DEFAULTS, ...options }
  for (let n = 1; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      if (!isConflict(err) || n >= o.attempts) throw err
      await o.sleep(Math.min(o.maxPauseMs, o.firstPauseMs * 2 ** Math.min(n - 1, 16)) * (0.5 + Math.random()))
    }
  }
}

export interface PolicyEndpoint {
  read(): Promise<Policy>
  /** Writes `policy`, which carries the etag of the policy read. */
  write(policy: Policy): Promise<Policy>
}

/** Reads, applies `edit`, writes back with the etag read; an edit that changes nothing writes nothing. */
export function readModifyWrite(endpoint: PolicyEndpoint, edit: (current: Policy) => Policy, options?: RetryOptions): Promise<Policy> {
  return retryOnConflict(async () => {
    const current = await endpoint.read()
    const next = edit(current)
    if (next === current || sameBindings(current, next)) return current
    const conditional = (next.bindings ?? []).some((b) => b.condition)
    return endpoint.write({ ...next, version: conditional ? 3 : (current.version ?? 1), etag: current.etag })
  }, options)
}
