/**
 * Polls `check` until it holds, and returns how long that took; fails after `ms` with what it
 * waited for (and, when `check` returns a string, what it last saw). The one way tests wait for
 * something to happen: no test sleeps a fixed time and hopes.
 */
export async function eventually(ms: number, check: () => Promise<boolean> | boolean, what = 'the condition', everyMs = 50): Promise<number> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/**
 * Probes until what it returns holds, for at most `ms`, and returns the last answer either way,
 * for tests that then say what that answer must be (a gRPC call's status, say).
 */
export async function lastProbe<T>(ms: number, probe: () => Promise<T>, holds: (t: T) => boolean, everyMs = 50): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const t = await probe()
    if (holds(t) || Date.now() > until) return t
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
