import pg from 'pg'
import { PosternError } from '../core/errors.js'
import type { Driver, Sql } from './sql.js'

// BIGINT columns hold milliseconds and sequence numbers, all far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

const RETRYABLE = new Set(['40001', '40P01']) // serialization_failure, deadlock_detected
// Connection failures (network, class 08, server shutting down or starting): the database is
// unreachable, which callers report as 503 UNAVAILABLE rather than as an internal error.
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006'])

function unreachable(err: unknown): boolean {
  const e = err as { code?: string; message?: string }
  return (e.code !== undefined && UNREACHABLE.has(e.code)) || /Connection terminated|connection timeout|timeout exceeded when trying to connect/i.test(e.message ?? '')
}

function translated(err: unknown): unknown {
  return unreachable(err) ? new PosternError('UNAVAILABLE', 'The database is unreachable; nothing was changed. Try again shortly.', { cause: err, headers: { 'retry-after': '5' } }) : err
}

/**
 * PostgreSQL (pg). Transactions run SERIALIZABLE and are retried on serialization failures, so
 * read-check-write use cases are safe among any number of processes.
 */
export function openPostgres(url: string, onError: (err: Error) => void): Driver {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5_000 })
  pool.on('error', onError)
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
  const query = async (q: { query: pg.Pool['query'] } | pg.PoolClient, text: string, params: readonly unknown[]) => {
    try {
      return await q.query(number(text), params as unknown[])
    } catch (err) {
      throw translated(err)
    }
  }
  const over = (q: { query: pg.Pool['query'] } | pg.PoolClient): Sql => ({
    async all<T>(text: string, params: readonly unknown[] = []) {
      return (await query(q, text, params)).rows as T[]
    },
    async get<T>(text: string, params: readonly unknown[] = []) {
      return (await query(q, text, params)).rows[0] as T | undefined
    },
    async run(text: string, params: readonly unknown[] = []) {
      return (await query(q, text, params)).rowCount ?? 0
    },
  })

  let listener: pg.Client | undefined
  let closed = false
  return {
    dialect: 'postgres',
    sql: over(pool),
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        let client: pg.PoolClient
        try {
          client = await pool.connect()
        } catch (err) {
          throw translated(err)
        }
        let broken = false
        try {
          await query(client, 'BEGIN ISOLATION LEVEL SERIALIZABLE', [])
          const result = await fn(over(client))
          await query(client, 'COMMIT', [])
          return result
        } catch (err) {
          broken = err instanceof PosternError && err.status === 'UNAVAILABLE'
          if (!broken) await client.query('ROLLBACK').catch(() => undefined)
          const code = (err as { code?: string }).code
          if (!code || !RETRYABLE.has(code) || attempt >= 30) throw err
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)))
        } finally {
          // A connection that failed is discarded, not handed to the next caller.
          client.release(broken)
        }
      }
    },
    async listen(channel, onNotify) {
      // One connection LISTENs; when it drops it is re-established with backoff, and the
      // follower is woken once it is back, to catch up on whatever was missed meanwhile.
      let delay = 500
      const connect = async (): Promise<void> => {
        if (closed) return
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 })
        let retried = false
        const retry = (err?: Error) => {
          if (retried || closed) return
          retried = true
          if (err) onError(err)
          if (listener === client) listener = undefined
          client.end().catch(() => undefined)
          setTimeout(() => void connect(), delay).unref()
          delay = Math.min(delay * 2, 10_000)
        }
        client.on('notification', onNotify)
        client.on('error', retry)
        client.on('end', () => retry())
        try {
          await client.connect()
          await client.query(`LISTEN ${channel}`)
          listener = client
          delay = 500
          onNotify()
        } catch (err) {
          retry(err as Error)
        }
      }
      await connect()
    },
    async close() {
      closed = true
      await listener?.end().catch(() => undefined)
      const drained = new Promise<void>((resolve) => {
        const check = () => connections === 0 && resolve()
        pool.on('remove', check)
        check()
      })
      await pool.end()
      await drained
    },
  }
}
