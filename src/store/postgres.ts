import pg from 'pg'
import { PosternError } from '../core/errors.js'
import { ChannelListener, destroy } from './postgres-listener.js'
import type { Driver, Sql } from './sql.js'

// BIGINT columns hold milliseconds and sequence numbers, all far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

const RETRYABLE = new Set(['40001', '40P01']) // serialization_failure, deadlock_detected

// A connection can go silent (a partition, a middlebox dropping state, a frozen server) without
// FIN or RST: without bounds one query would then wait forever, and everything queued behind it
// — the change follower, API calls, shutdown — with it. The server gives up on a statement after
// STATEMENT_TIMEOUT_MS (it answers, so the connection stays usable); when it does not answer at
// all, the client gives up a little later and the connection is discarded, never pooled again.
const STATEMENT_TIMEOUT_MS = 10_000
const ANSWER_TIMEOUT_MS = 12_000
/** How long close() waits for connections to say goodbye before cutting them (a silent peer never does). */
const CLOSE_GRACE_MS = 2_000
// Connection failures (network, class 08, server shutting down or starting): the database is
// unreachable, which callers report as 503 UNAVAILABLE rather than as an internal error.
// 57014: a statement cancelled by statement_timeout (the database too slow to answer is, to the
// caller, the same as one it cannot reach). 'Query read timeout': pg's query_timeout. Refused at
// connect: 53300 too many connections, 53000 out of resources, 3D000 no such database (dropped
// while Postern ran), and 55000 "not currently accepting connections" (ALTER DATABASE …
// ALLOW_CONNECTIONS false), matched by its words since 55000 names other states too.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', '57014', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53000', '53300', '3D000'])

function unreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return (e.code !== undefined && UNREACHABLE.has(e.code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Query read timeout|not currently accepting connections/i.test(e.message ?? '')
}

const unavailable = (cause: unknown) =>
  new PosternError('UNAVAILABLE', 'The database is unreachable; nothing was changed. Try again shortly.', { cause, headers: { 'retry-after': '5' }, condition: `the database is unreachable (${(cause as { message?: string }).message ?? String(cause)})` })

// 42P01 undefined_table, 3F000 invalid_schema_name: the database answers but holds no Postern
// (dropped and created anew, a schema dropped, another database at that URL).
const SCHEMA_GONE = new Set(['42P01', '3F000'])
const schemaGone = (cause: unknown) => new PosternError('UNAVAILABLE', 'The database no longer holds Postern’s tables (dropped or replaced while Postern ran?); nothing was changed. Restart postern serve to create them, or restore the database.', { cause, condition: 'the database no longer holds Postern’s tables (dropped or replaced while Postern ran?)' })

function translated(err: unknown): unknown {
  if (SCHEMA_GONE.has((err as { code?: string }).code ?? '')) return schemaGone(err)
  return unreachable(err) ? unavailable(err) : err
}

/**
 * PostgreSQL (pg). Transactions run SERIALIZABLE and are retried on serialization failures, so
 * read-check-write use cases are safe among any number of processes.
 */
export function openPostgres(url: string, onError: (err: Error) => void): Driver {
  const connection: pg.ClientConfig = {
    connectionString: url,
    connectionTimeoutMillis: 5_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: ANSWER_TIMEOUT_MS,
    // Lets the OS notice a peer that vanished while a connection sits idle (a real partition; a
    // local relay that stops forwarding still answers TCP, which the timeouts above cover).
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  }
  const pool = new pg.Pool({ ...connection, max: 10 })
  pool.on('error', onError)
  // Every connection open now, so close() can cut the ones that do not close when asked.
  const open = new Set<pg.Client>()
  pool.on('connect', (c) => void open.add(c))
  pool.on('remove', (c) => void open.delete(c))
  // pool.end() resolves once it has asked its connections to close, not once they have: count
  // them, so close() returns only when no connection is left (a database dropped or a server
  // stopped right after close() must not kill one of ours and report it as an error).
  let connections = 0
  pool.on('connect', () => void connections++)
  pool.on('remove', () => void connections--)

  const number = (text: string) => {
    let i = 0
    return text.replace(/\?/g, () => `$${++i}`)
  }
  type Run = (text: string, params: unknown[]) => Promise<pg.QueryResult>
  const over = (run: Run): Sql => {
    const query = async (text: string, params: readonly unknown[]) => {
      try {
        return await run(number(text), params as unknown[])
      } catch (err) {
        throw translated(err)
      }
    }
    return {
      async all<T>(text: string, params: readonly unknown[] = []) {
        return (await query(text, params)).rows as T[]
      },
      async get<T>(text: string, params: readonly unknown[] = []) {
        return (await query(text, params)).rows[0] as T | undefined
      },
      async run(text: string, params: readonly unknown[] = []) {
        return (await query(text, params)).rowCount ?? 0
      },
    }
  }

  const listeners: ChannelListener[] = []
  let closed = false
  return {
    dialect: 'postgres',
    sql: over((text, params) => pool.query(text, params)),
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        let client: pg.PoolClient
        try {
          client = await pool.connect()
        } catch (err) {
          throw translated(err)
        }
        // pg's pool stops listening for a client's errors while it is checked out: a connection
        // reset now (between statements, or while one is in flight) would be an unhandled 'error'
        // event that ends the process. Held here, the loss fails the transaction with UNAVAILABLE.
        let lost: Error | undefined
        const onLost = (err: Error) => void (lost ??= err)
        client.on('error', onLost)
        const statements = over((text, params) => (lost ? Promise.reject(unavailable(lost)) : client.query(text, params)))
        let broken = false
        try {
          await statements.run('BEGIN ISOLATION LEVEL SERIALIZABLE')
          const result = await fn(statements)
          try {
            await statements.run('COMMIT')
          } catch (err) {
            // The COMMIT may have reached the server before the connection went: say so, rather than "nothing was changed".
            if (err instanceof PosternError && err.status === 'UNAVAILABLE') throw new PosternError('UNAVAILABLE', 'The database connection was lost while committing: the change may or may not have been saved. Check before retrying.', { cause: err, headers: { 'retry-after': '5' } })
            throw err
          }
          return result
        } catch (caught) {
          const err = lost && !(caught instanceof PosternError) ? unavailable(lost) : caught
          broken = lost !== undefined || (err instanceof PosternError && err.status === 'UNAVAILABLE')
          if (!broken) await client.query('ROLLBACK').catch(() => undefined)
          const code = (err as { code?: string }).code
          if (!code || !RETRYABLE.has(code) || attempt >= 30) throw err
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)))
        } finally {
          // A connection that failed is discarded, not handed to the next caller. The pool listens
          // again from release on, so ours can go.
          client.release(broken)
          client.removeListener('error', onLost)
        }
      }
    },
    async listen(channel, onNotify) {
      if (closed) return
      const track = (c: pg.Client) => {
        open.add(c)
        c.on('end', () => void open.delete(c))
      }
      // One connection LISTENs, checked and re-established as postgres-listener.ts says.
      const listener = new ChannelListener({ connection, channel, onNotify, onError, track })
      listeners.push(listener)
      await listener.start()
    },
    async close() {
      closed = true
      // Ending a connection waits for the server's goodbye, which a silent one never sends: past
      // the grace period, what is still open is cut, so shutdown does not hang on a dead database.
      const cut = setTimeout(() => {
        for (const c of open) destroy(c)
      }, CLOSE_GRACE_MS)
      try {
        await closeAll()
      } finally {
        clearTimeout(cut)
      }
    },
  }

  async function closeAll() {
    await Promise.all(listeners.map((l) => l.end()))
    const drained = new Promise<void>((resolve) => {
      const check = () => connections === 0 && resolve()
      pool.on('remove', check)
      check()
    })
    await pool.end()
    await drained
  }
}
