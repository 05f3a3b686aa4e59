import Database from 'better-sqlite3'
import { chmodSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Driver, Sql } from './sql.js'

/**
 * Embedded SQLite (better-sqlite3). WAL with synchronous=FULL: a commit is on disk before the
 * call returns, so an acknowledged write survives a crash. better-sqlite3 is synchronous; one
 * queue keeps an async transaction's statements from interleaving with other callers'.
 */
export function openSqlite(file: string): Driver {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const db = new Database(file)
  // SQLite gives the -wal and -shm files the database file's mode.
  if (file !== ':memory:') chmodSync(file, 0o600)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('busy_timeout = 10000')
  db.pragma('foreign_keys = ON')

  const statements = new Map<string, Database.Statement>()
  const prepare = (text: string) => {
    let s = statements.get(text)
    if (!s) statements.set(text, (s = db.prepare(text)))
    return s
  }
  const bind = (params: readonly unknown[] = []) => params.map((p) => (typeof p === 'boolean' ? Number(p) : p))

  // Runs statements at once; used inside a transaction that already holds the queue.
  const direct: Sql = {
    async all<T>(text: string, params?: readonly unknown[]) {
      return prepare(text).all(...bind(params)) as T[]
    },
    async get<T>(text: string, params?: readonly unknown[]) {
      const s = prepare(text)
      return (s.reader ? s.get(...bind(params)) : (s.run(...bind(params)), undefined)) as T | undefined
    },
    async run(text: string, params?: readonly unknown[]) {
      const s = prepare(text)
      if (s.reader) return s.all(...bind(params)).length
      return s.run(...bind(params)).changes
    },
  }

  let tail: Promise<unknown> = Promise.resolve()
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const result = tail.then(fn, fn)
    tail = result.catch(() => undefined)
    return result
  }

  return {
    dialect: 'sqlite',
    sql: {
      all: (text, params) => exclusive(() => direct.all(text, params)),
      get: (text, params) => exclusive(() => direct.get(text, params)),
      run: (text, params) => exclusive(() => direct.run(text, params)),
    },
    transaction: (fn) =>
      exclusive(async () => {
        db.exec('BEGIN IMMEDIATE')
        try {
          const result = await fn(direct)
          db.exec('COMMIT')
          return result
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK')
          throw err
        }
      }),
    async listen() {
      // Followers poll the changes table; SQLite has no notifications across processes.
    },
    async close() {
      await exclusive(async () => db.close())
    },
  }
}
