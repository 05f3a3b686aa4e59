import type { Change } from '../store/records.js'

/**
 * Long-polls on access requests (`POST /v1/accessRequests/{id}:wait`): a waiter is woken when the
 * change feed says its request changed — whichever process decided it — so `request-access
 * --wait` returns as soon as the decision is committed and this process's caches hold the new
 * policy. Bounded: past the limit a wait returns at once and the client simply asks again.
 */
export class AccessRequestWaiters {
  private readonly waiting = new Map<string, Set<() => void>>()
  private count = 0

  constructor(private readonly limit = 10_000) {}

  /** Starts waiting for `id`; `done` resolves on a change to it or after `timeoutMs`. Call `cancel` when no longer interested. */
  wait(id: string, timeoutMs: number): { done: Promise<void>; cancel: () => void } {
    if (this.count >= this.limit) return { done: Promise.resolve(), cancel: () => {} }
    let wake!: () => void
    const done = new Promise<void>((resolve) => (wake = resolve))
    let set = this.waiting.get(id)
    if (!set) this.waiting.set(id, (set = new Set()))
    const entry = () => cancel()
    const timer = setTimeout(entry, timeoutMs)
    timer.unref()
    let finished = false
    const cancel = () => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      this.count--
      const current = this.waiting.get(id)
      current?.delete(entry)
      if (current?.size === 0) this.waiting.delete(id)
      wake()
    }
    set.add(entry)
    this.count++
    return { done, cancel }
  }

  /** Wakes the waiters of every access request the changes name. */
  notify(changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind !== 'accessRequest') continue
      for (const wake of [...(this.waiting.get(c.key) ?? [])]) wake()
    }
  }

  get size(): number {
    return this.count
  }
}
