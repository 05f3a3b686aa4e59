import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { hostname, uptime } from 'node:os'

/**
 * A lock file among the CLI processes of one person (credentials.json's read-modify-write: a
 * refresh token must be presented once, or the server revokes the whole sign-in). The file holds
 * the holder's pid and host. A lock is taken over when its holder is gone — a process that died
 * or was stopped with Ctrl-C — and not because a live holder is slow: a holder waiting on a slow
 * server (up to the CLI's HTTP timeout) still holds its refresh token, and a second process
 * presenting it would end the sign-in. Only past the time any refresh can take is a holder that
 * seems alive taken for a pid another process now has (lockIsStale).
 */

/** How long a waiter waits for the lock before it gives up, saying who holds it. */
const MAX_WAIT_MS = 180_000
/** A lock with no holder written in it yet is being created; one older than this was left by a crash mid-create, or an older CLI. */
const UNWRITTEN_GRACE_MS = 5_000
/** A holder on another host (a home shared over NFS) cannot be asked whether it is alive: its lock is taken after this long. */
const OTHER_HOST_STALE_MS = 180_000
/**
 * No refresh holds the lock this long (one HTTP exchange, the CLI's timeout 60 s): a holder that
 * seems alive past it is another process that took a dead holder's pid (pids repeat, in
 * containers from 1 up), or one stuck past any answer.
 */
const HELD_TOO_LONG_MS = 150_000

export interface Holder {
  pid: number
  host: string
}

export function parseHolder(content: string): Holder | undefined {
  const [pid, host] = content.split('\n')
  const n = Number(pid)
  return Number.isSafeInteger(n) && n > 0 && host ? { pid: n, host } : undefined
}

/**
 * Whether a lock found in place may be taken over: its holder is gone, or has held it longer than
 * any refresh takes, or since before this machine started (`uptimeMs`: a lock that outlived a reboot).
 */
export function lockIsStale(o: { holder: Holder | undefined; ageMs: number; here: string; alive: (pid: number) => boolean; uptimeMs: number }): boolean {
  if (!o.holder) return o.ageMs > UNWRITTEN_GRACE_MS
  if (o.holder.host !== o.here) return o.ageMs > OTHER_HOST_STALE_MS
  return o.ageMs > HELD_TOO_LONG_MS || o.ageMs > o.uptimeMs || !o.alive(o.holder.pid)
}

/** Whether a process of this pid exists on this machine (EPERM: it does, as another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readLock(path: string): { content: string; ageMs: number } | undefined {
  try {
    return { ageMs: Date.now() - statSync(path).mtimeMs, content: readFileSync(path, 'utf8') }
  } catch {
    return undefined
  }
}

/** Removes the lock only if it still holds `content`: not one another process has just taken. */
function removeIfUnchanged(path: string, content: string): void {
  if (readLock(path)?.content !== content) return
  try {
    unlinkSync(path)
  } catch {
    /* someone else removed it */
  }
}

export async function withFileLock<T>(path: string, fn: () => Promise<T>, o: { maxWaitMs?: number } = {}): Promise<T> {
  const here = hostname()
  const mine = `${process.pid}\n${here}\n`
  const started = Date.now()
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      try {
        writeSync(fd, mine)
      } finally {
        closeSync(fd)
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const found = readLock(path)
      if (!found) continue
      const holder = parseHolder(found.content)
      if (lockIsStale({ holder, ageMs: found.ageMs, here, alive, uptimeMs: uptime() * 1000 })) {
        removeIfUnchanged(path, found.content)
        continue
      }
      if (Date.now() - started > (o.maxWaitMs ?? MAX_WAIT_MS)) {
        throw new Error(`Another postern command${holder ? ` (pid ${holder.pid})` : ''} has held ${path} for ${Math.round(found.ageMs / 1000)} s. If it hangs, stop it; this command left the lock alone, as taking it could end the sign-in.`)
      }
      await new Promise((r) => setTimeout(r, Math.min(200, 5 + attempt * 5) * (0.5 + Math.random())))
    }
  }
  try {
    return await fn()
  } finally {
    removeIfUnchanged(path, mine)
  }
}
