import cluster from 'node:cluster'
import { PosternError } from './core/errors.js'
import { terminalHungUp } from './core/hangup.js'

/**
 * `postern serve --workers N`: N worker processes share the listening ports, each
 * with its own caches, all following the same change feed, so a change reaches every worker
 * within a second. The primary only supervises: it restarts a worker that dies and announces
 * readiness once every worker is ready. Workers accept connections themselves (SCHED_NONE):
 * round-robin through the primary would put one more hop on the hot path.
 *
 * Worker 0 starts alone; the others once it is ready. Workers started together on a new data dir
 * raced to create what the first start creates: one could read the master key file another had
 * created but not yet written, and on the embedded store one failed its start with "database is
 * locked" while another migrated.
 */
export async function superviseWorkers(count: number, out: { stdout: (s: string) => void; stderr: (s: string) => void }): Promise<void> {
  cluster.schedulingPolicy = cluster.SCHED_NONE
  let stopping = false
  const ready = new Set<number>()
  const started = new Set<number>()
  let failedStart: (() => void) | undefined
  const fork = (index: number) => {
    const worker = cluster.fork({ POSTERN_WORKER: String(index) })
    worker.on('message', (m: unknown) => {
      if (m !== 'ready') return
      ready.add(index)
      if (index === 0 && !started.has(0) && !stopping) for (let i = 1; i < count; i++) fork(i)
      started.add(index)
      if (ready.size === count) out.stdout(`All ${count} workers are up. Postern is ready.\n`)
    })
    worker.on('exit', (code, signal) => {
      if (stopping) return
      // A worker that never got ready could not start (a busy port, say: it said why); starting
      // it again would fail the same way, every half second, forever.
      if (!started.has(index)) return failedStart?.()
      out.stderr(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'worker exited; starting another', index, code, signal })}\n`)
      ready.delete(index)
      setTimeout(() => fork(index), 500)
    })
  }
  fork(0)
  await new Promise<void>((resolve, reject) => {
    let failure: Error | undefined
    failedStart = () => {
      failure = new PosternError('FAILED_PRECONDITION', 'A worker could not start (its error is above); stopped the others.')
      stop()
    }
    // Once every worker has exited: a start that failed fails, whichever worker exits last.
    const stopped = () => (failure ? reject(failure) : resolve())
    const stop = () => {
      stopping = true
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      const workers = Object.values(cluster.workers ?? {})
      let left = workers.length
      if (left === 0) return stopped()
      for (const w of workers) {
        w?.once('exit', () => --left === 0 && stopped())
        w?.process.kill('SIGTERM')
      }
    }
    // `systemctl reload` signals the primary alone: each worker reads its TLS files again itself.
    const hangup = () => {
      if (stopping) return
      if (terminalHungUp()) return stop()
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP')
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    process.on('SIGHUP', hangup)
  })
}
