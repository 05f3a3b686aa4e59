import { connect, type Socket } from 'node:net'

/**
 * An open-loop load generator at a fixed rate, for the one figure wrk cannot give: latency at
 * half of the maximum load. (Debian's wrk has no rate limit; wrk2 is not packaged.)
 *
 * Requests are due at t0 + i/rate whatever happened before (open loop, as wrk2), and go out on
 * the first idle keep-alive connection; a timer checks for due requests every millisecond, so
 * they leave in small bursts. Two latencies are kept per request: from the moment it was written
 * (service time, what wrk reports) and from the moment it was due (wrk2's correction for
 * coordinated omission, which also carries up to ~1 ms of this generator's timer granularity).
 * Responses are parsed only as far as needed: status line, Content-Length or chunked framing.
 */
export interface FixedRateOptions {
  port: number
  host: string
  path?: string
  token?: string
  rate: number
  seconds: number
  /** Leading seconds left out of the statistics (connection set-up, JIT). */
  warmupSeconds?: number
  connections: number
}

export interface FixedRateResult {
  rate: number
  achievedRps: number
  requests: number
  /** Non-2xx responses, socket errors. */
  errors: number
  /** Milliseconds, from the write. */
  p50: number
  p99: number
  p999: number
  /** Milliseconds, from the due time (wrk2's corrected latency). */
  corrected: { p50: number; p99: number; p999: number }
}

interface Conn {
  socket: Socket
  buffer: Buffer
  busy: boolean
  sentAt: number
  dueAt: number
}

export async function runFixedRate(o: FixedRateOptions): Promise<FixedRateResult> {
  const request = Buffer.from(
    `GET ${o.path ?? '/'} HTTP/1.1\r\nHost: ${o.host}\r\n${o.token ? `Authorization: Bearer ${o.token}\r\n` : ''}\r\n`,
    'latin1',
  )
  const conns = await Promise.all(Array.from({ length: o.connections }, () => open(o.port)))
  const idle: Conn[] = [...conns]
  const queue: number[] = []
  const service: number[] = []
  const corrected: number[] = []
  const warmupEnd = (o.warmupSeconds ?? 1) * 1000
  let errors = 0
  let completed = 0
  let issued = 0
  const t0 = performance.now()
  const total = Math.floor(o.rate * o.seconds)

  const send = (c: Conn, dueAt: number) => {
    c.busy = true
    c.dueAt = dueAt
    c.sentAt = performance.now()
    c.socket.write(request)
  }
  const dispatch = () => {
    while (queue.length > 0 && idle.length > 0) send(idle.shift()!, queue.shift()!)
  }

  await new Promise<void>((resolve, reject) => {
    const finish = () => {
      clearInterval(timer)
      resolve()
    }
    for (const c of conns) {
      c.socket.on('data', (chunk: Buffer) => {
        c.buffer = c.buffer.length ? Buffer.concat([c.buffer, chunk]) : chunk
        for (;;) {
          const used = responseLength(c.buffer)
          if (used === undefined) break
          if (used < 0) return reject(new Error('fixed-rate: cannot parse the response'))
          const status = Number(c.buffer.subarray(9, 12).toString('latin1'))
          c.buffer = c.buffer.subarray(used)
          const now = performance.now()
          if (status < 200 || status > 299) errors++
          if (c.dueAt - t0 >= warmupEnd) {
            service.push(now - c.sentAt)
            corrected.push(now - c.dueAt)
          }
          c.busy = false
          completed++
          idle.push(c)
        }
        dispatch()
        if (completed >= total) finish()
      })
      c.socket.on('error', () => {
        errors++
      })
    }
    const timer = setInterval(() => {
      const now = performance.now()
      const due = Math.min(total, Math.floor(((now - t0) / 1000) * o.rate))
      for (; issued < due; issued++) queue.push(t0 + (issued * 1000) / o.rate)
      dispatch()
      // Give up on stragglers 10 s after the last request was due.
      if (now - t0 > o.seconds * 1000 + 10_000) finish()
    }, 1)
  })
  const elapsed = (performance.now() - t0) / 1000
  for (const c of conns) c.socket.destroy()
  service.sort((a, b) => a - b)
  corrected.sort((a, b) => a - b)
  return {
    rate: o.rate,
    achievedRps: completed / elapsed,
    requests: completed,
    errors,
    p50: percentile(service, 50),
    p99: percentile(service, 99),
    p999: percentile(service, 99.9),
    corrected: { p50: percentile(corrected, 50), p99: percentile(corrected, 99), p999: percentile(corrected, 99.9) },
  }
}

function open(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true })
    socket.once('connect', () => resolve({ socket, buffer: Buffer.alloc(0), busy: false, sentAt: 0, dueAt: 0 }))
    socket.once('error', reject)
  })
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

/** Bytes of the first complete response in `b`; undefined if incomplete, -1 if unparseable. */
function responseLength(b: Buffer): number | undefined {
  const end = b.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const head = b.subarray(0, end).toString('latin1').toLowerCase()
  const bodyStart = end + 4
  const cl = /\r\ncontent-length: *(\d+)/.exec(head)
  if (cl) {
    const length = bodyStart + Number(cl[1])
    return b.length >= length ? length : undefined
  }
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    let at = bodyStart
    for (;;) {
      const lineEnd = b.indexOf('\r\n', at)
      if (lineEnd < 0) return undefined
      const size = parseInt(b.subarray(at, lineEnd).toString('latin1'), 16)
      if (Number.isNaN(size)) return -1
      at = lineEnd + 2 + size + 2
      if (b.length < at) return undefined
      if (size === 0) return at
    }
  }
  return -1
}
