import cluster from 'node:cluster'
import { PosternError } from './core/errors.js'

/**
 * `postern serve --workers N`: N worker processes share the listening ports, each
 * with its own caches, all following the same change feed, so a change reaches every worker
 * within a second. The primary only supervises: it restarts a worker that dies and announces
 * readiness once every worker is ready. Workers accept connections themselves (SCHED_NONE):
 * round-robin through the primary would put one more hop on the hot path.
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
  for (let i = 0; i < count; i++) fork(i)
  await new Promise<void>((resolve, reject) => {
    failedStart = () => {
      stop()
      reject(new PosternError('FAILED_PRECONDITION', 'A worker could not start (its error is above); stopped the others.'))
    }
    const stop = () => {
      stopping = true
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      const workers = Object.values(cluster.workers ?? {})
      let left = workers.length
      if (left === 0) return resolve()
      for (const w of workers) {
        w?.once('exit', () => --left === 0 && resolve())
        w?.process.kill('SIGTERM')
      }
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
