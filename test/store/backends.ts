import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openStore, type StoreOptions } from '../../src/store/open-store.js'
import type { Store } from '../../src/store/store.js'
import { ADMIN_URL, createTestDatabase } from '../support/postgres.js'

/**
 * One empty database a test may open any number of times (as several processes would), plus a
 * raw SQL door for the few checks the Store interface cannot express (schema version rows).
 */
export interface Place {
  readonly options: StoreOptions
  /** Errors the store reported through `onError` (pool errors); a healthy run has none. */
  readonly errors: Error[]
  open(): Promise<Store>
  /** Runs one statement outside the store, on a connection of its own. */
  raw(sql: string): Promise<void>
  /** Closes every store opened here and removes the database. */
  cleanup(): Promise<void>
}

export interface Backend {
  readonly name: 'sqlite' | 'postgres'
  /** Whether several processes (stores) may write to one database at once. */
  readonly sharedByProcesses: boolean
  fresh(o?: FreshOptions): Promise<Place>
}

export interface FreshOptions {
  clock?: () => number
  /**
   * A natural-language collation for the database's text (an ICU locale such as 'en-US'), as a
   * PostgreSQL server initialised under that locale would have. SQLite has none and ignores it.
   */
  locale?: string
}

function place(options: StoreOptions, errors: Error[], raw: (sql: string) => Promise<void>, remove: () => Promise<void>): Place {
  const opened: Store[] = []
  return {
    options,
    errors,
    async open() {
      const store = await openStore(options)
      opened.push(store)
      return store
    },
    raw,
    async cleanup() {
      // A store a test already closed rejects a second close on PostgreSQL; that is not a failure here.
      await Promise.all(opened.map((s) => s.close().catch(() => undefined)))
      await remove()
    },
  }
}

export const sqlite: Backend = {
  name: 'sqlite',
  sharedByProcesses: false,
  async fresh(o = {}) {
    const dataDir = await mkdtemp(join(tmpdir(), 'postern-store-'))
    const errors: Error[] = []
    const options: StoreOptions = { dataDir, clock: o.clock ?? Date.now, onError: (err) => void errors.push(err) }
    const raw = async (sql: string) => {
      const db = new Database(join(dataDir, 'postern.db'))
      try {
        db.exec(sql)
      } finally {
        db.close()
      }
    }
    return place(options, errors, raw, () => rm(dataDir, { recursive: true, force: true }))
  },
}

export const postgres: Backend = {
  name: 'postgres',
  sharedByProcesses: true,
  async fresh(o = {}) {
    const dataDir = await mkdtemp(join(tmpdir(), 'postern-store-'))
    const db = o.locale ? await createDatabaseWithLocale(o.locale) : await createTestDatabase()
    const errors: Error[] = []
    const options: StoreOptions = { dataDir, databaseUrl: db.url, clock: o.clock ?? Date.now, onError: (err) => void errors.push(err) }
    const raw = async (sql: string) => {
      const client = new pg.Client({ connectionString: db.url })
      await client.connect()
      try {
        await client.query(sql)
      } finally {
        await client.end()
      }
    }
    return place(options, errors, raw, async () => {
      await db.drop()
      await rm(dataDir, { recursive: true, force: true })
    })
  },
}

/** Like createTestDatabase, with an ICU default collation (PostgreSQL 15+ built with ICU, as Debian's is). */
async function createDatabaseWithLocale(locale: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `postern_test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${locale.replace(/[^A-Za-z0-9-]/g, '')}'`)
  } finally {
    await admin.end()
  }
  return {
    url: ADMIN_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`),
    async drop() {
      const c = new pg.Client({ connectionString: ADMIN_URL })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.end()
    },
  }
}
