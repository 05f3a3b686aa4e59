import { createServer, connect, type Server, type Socket } from 'node:net'
import { freePort } from './ports.js'

/**
 * A TCP relay between a process and its database that the test can break on command: `cut`
 * closes every connection and refuses new ones (a network partition) until `restore`; `reset`
 * sends a TCP RST to the process on connections open now (a middlebox or a restarting peer);
 * `hold` stops relaying what the process sends after a connection's first message, so a query or
 * a transaction it starts stays in flight until the test resets it (`sent` tells when it has
 * been sent), while new connections can still be made; `silence` makes every connection, open or
 * new, stop answering without closing (a black hole: no FIN, no RST), and `unsilence` lets new
 * connections through again while the silenced ones stay silent for good; `silence({ matching })`
 * silences only the open connections that ever sent `matching` (one connection of many gone dark).
 */
export interface TcpProxy {
  port: number
  cut(): Promise<void>
  restore(): Promise<void>
  /** Stops relaying client → server bytes after each connection's first message (they are kept, and flow again on `release`). */
  /**
   * Holds what each started connection sends next, until `release` or a reset; a message holding
   * `passing` goes through when nothing is held before it (a query the test does not mean to cut,
   * such as the API's check of a token's sign-in before the query it does).
   */
  hold(o?: { passing?: string }): void
  release(): void
  /** Resolves once some connection has sent `text` since the last `hold` (or ever, when not holding). */
  sent(text: string, timeoutMs?: number): Promise<void>
  /** Resets (RST) the process's side of every connection, or only of those that ever sent `matching`; returns how many. */
  reset(o?: { matching?: string }): number
  /** Open and new connections (or only the open ones that ever sent `matching`) stop relaying either way and are never closed by the relay. */
  silence(o?: { matching?: string }): void
  /** New connections relay again; those silenced stay silent until the relay closes. */
  unsilence(): void
  /** How many connections are open now. */
  connections(): number
  close(): Promise<void>
}

interface Link {
  client: Socket
  upstream: Socket
  /** Everything the client sent, bounded (what the test matches against). */
  transcript: string
  /** Whether the connection's first message (PostgreSQL's startup message) has gone through. */
  started: boolean
  heldText: string
  held: Buffer[]
  /** Drops whatever either side sends, and ignores its FIN. */
  silent: boolean
}

const TRANSCRIPT_LIMIT = 64 * 1024

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort()
  const links = new Set<Link>()
  let server: Server | undefined
  let holding = false
  let passing: string | undefined
  let silencing = false
  const waiters = new Set<() => void>()

  const listen = () =>
    new Promise<void>((resolve) => {
      // allowHalfOpen: a silenced connection must not answer the client's FIN with its own.
      server = createServer({ allowHalfOpen: true }, (client) => {
        const upstream = connect(targetPort, '127.0.0.1')
        const link: Link = { client, upstream, transcript: '', started: false, heldText: '', held: [], silent: silencing }
        links.add(link)
        const end = () => {
          client.destroy()
          upstream.destroy()
          links.delete(link)
        }
        client.on('error', end).on('close', end)
        upstream.on('error', end).on('close', end)
        client.on('end', () => void (link.silent || upstream.end()))
        client.on('data', (chunk: Buffer) => {
          if (link.silent) return
          const text = chunk.toString('latin1')
          link.transcript = (link.transcript + text).slice(-TRANSCRIPT_LIMIT)
          // New connections still start while holding: what is held is what they send next.
          if (holding && link.started && !(passing !== undefined && link.held.length === 0 && text.includes(passing))) {
            link.held.push(chunk)
            link.heldText = (link.heldText + text).slice(-TRANSCRIPT_LIMIT)
          } else {
            upstream.write(chunk)
          }
          link.started = true
          for (const wake of waiters) wake()
        })
        upstream.on('data', (chunk: Buffer) => void (link.silent || client.write(chunk)))
        upstream.on('end', () => void (link.silent || client.end()))
      })
      server.listen(port, '127.0.0.1', resolve)
    })

  const cut = () =>
    new Promise<void>((resolve) => {
      for (const l of links) {
        l.client.destroy()
        l.upstream.destroy()
      }
      links.clear()
      if (!server) return resolve()
      server.close(() => resolve())
      server = undefined
    })

  const release = () => {
    holding = false
    for (const l of links) {
      for (const chunk of l.held) l.upstream.write(chunk)
      l.held = []
      l.heldText = ''
    }
  }

  await listen()
  return {
    port,
    cut,
    restore: listen,
    hold(o) {
      holding = true
      passing = o?.passing
    },
    release,
    sent(text, timeoutMs = 10_000) {
      const seen = () => [...links].some((l) => (holding ? l.heldText : l.transcript).includes(text))
      if (seen()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (!seen()) return
          clearTimeout(timer)
          waiters.delete(wake)
          resolve()
        }
        const timer = setTimeout(() => {
          waiters.delete(wake)
          reject(new Error(`no connection sent ${JSON.stringify(text)} within ${timeoutMs} ms`))
        }, timeoutMs)
        waiters.add(wake)
      })
    },
    reset(o = {}) {
      let count = 0
      for (const l of [...links]) {
        if (o.matching !== undefined && !l.transcript.includes(o.matching)) continue
        l.client.resetAndDestroy()
        l.upstream.destroy()
        links.delete(l)
        count++
      }
      holding = false
      release()
      return count
    },
    silence(o = {}) {
      if (o.matching === undefined) silencing = true
      for (const l of links) if (o.matching === undefined || l.transcript.includes(o.matching)) l.silent = true
    },
    unsilence() {
      silencing = false
    },
    connections: () => links.size,
    close: cut,
  }
}
