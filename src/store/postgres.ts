import pg from 'pg'
import type { Driver, Sql } from './sql.js'

// BIGINT columns hold milliseconds and sequence numbers, all far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

const RETRYABLE = new Set(['40001', '40P01']) // serialization_failure, deadlock_detected

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
  const over = (q: { query: pg.Pool['query'] } | pg.PoolClient): Sql => ({
    async all<T>(text: string, params: readonly unknown[] = []) {
      return (await q.query(number(text), params as unknown[])).rows as T[]
    },
    async get<T>(text: string, params: readonly unknown[] = []) {
      return (await q.query(number(text), params as unknown[])).rows[0] as T | undefined
    },
    async run(text: string, params: readonly unknown[] = []) {
      return (await q.query(number(text), params as unknown[])).rowCount ?? 0
    },
  })

  let listener: pg.Client | undefined
  return {
    dialect: 'postgres',
    sql: over(pool),
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect()
        try {
          await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE')
          const result = await fn(over(client))
          await client.query('COMMIT')
          return result
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined)
          const code = (err as { code?: string }).code
          if (!code || !RETRYABLE.has(code) || attempt >= 30) throw err
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 5 * 2 ** attempt)))
        } finally {
          client.release()
        }
      }
    },
    async listen(channel, onNotify) {
      listener = new pg.Client({ connectionString: url })
      listener.on('notification', onNotify)
      listener.on('error', (err) => {
        onError(err)
        listener = undefined
      })
      await listener.connect()
      await listener.query(`LISTEN ${channel}`)
    },
    async close() {
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
