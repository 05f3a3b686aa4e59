import Database from 'better-sqlite3'
import { chmodSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { writableDataDir, writableFile } from '../core/data-dir.js'
import { PosternError } from '../core/errors.js'
import type { Driver, Sql } from './sql.js'

/**
 * What SQLite's failures mean to a caller: the disk full, a read-only, locked, damaged or failing
 * file are the operator's to fix, not a bug — 503 with which file and what to look at, rather than
 * a bare "Internal error" (and at start, rather than SQLite's words without a path).
 */
function storageFailures(file: string): Record<string, { message: string; headers?: Record<string, string> }> {
  // Held past busy_timeout by another process (a sqlite3 shell, a backup tool, a second serve): it will likely pass.
  const locked = { message: `The database file ${file} is locked by another process (held longer than the 10 s Postern waits); nothing was changed. Try again; if this persists, look for what else has the file open.`, headers: { 'retry-after': '5' } }
  const damaged = { message: `The database file ${file} is damaged (SQLite: database disk image is malformed or not a database); nothing was changed. With postern serve stopped, restore it from a backup (and remove ${file}-wal and ${file}-shm beside it), or move it aside to start anew.` }
  return {
    SQLITE_FULL: { message: 'The disk holding the database is full; nothing was changed. Free some space and try again.' },
    // Under a running server (the file was writable at its start): a file system remounted read-only, say.
    SQLITE_READONLY: { message: `The database file ${file} cannot be written (read-only file or file system); nothing was changed. Check the mount it is on, and that the user postern serve runs as may write it and its -wal and -shm files.` },
    SQLITE_IOERR: { message: 'The database file could not be read or written (an I/O error); nothing was changed. Check the disk.' },
    SQLITE_CANTOPEN: { message: 'The database file cannot be opened; nothing was changed. Check the data dir.' },
    SQLITE_BUSY: locked,
    SQLITE_LOCKED: locked,
    SQLITE_CORRUPT: damaged,
    SQLITE_NOTADB: damaged,
  }
}

/** SQLite's primary code of an error (SQLITE_IOERR of SQLITE_IOERR_FSYNC), if it is SQLite's. */
function primaryCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? /^SQLITE_[A-Z]+/.exec(code)?.[0] : undefined
}

/** The failures that say the database takes no writes now, whatever is tried again: the operator's to hear of. */
const WRITES_REFUSED = new Set(['SQLITE_FULL', 'SQLITE_READONLY'])

/** A storage failure as the caller's 503; any other error as it is. (Extended codes, such as SQLITE_IOERR_FSYNC, by their primary code.) */
function translator(file: string): (err: unknown) => unknown {
  const failures = storageFailures(file)
  return (err) => {
    const primary = primaryCode(err)
    const failure = primary !== undefined && Object.hasOwn(failures, primary) ? failures[primary] : undefined
    // Each message is the condition, then what the refused request is told ("; nothing was changed. …"):
    // health answers and logs say only the first.
    return failure ? new PosternError('UNAVAILABLE', failure.message, { cause: err, condition: failure.message.split('; nothing was changed')[0], ...(failure.headers && { headers: failure.headers }) }) : err
  }
}

/**
 * The file this process opened, as the file system names it: a database file removed or replaced
 * under a running server (an rm, a restore copied over it) leaves the process writing to a file
 * no one will open again — every write acknowledged, then lost at the next start. Checked before
 * every write, and by readiness: a stat, next to a commit's fsync.
 */
function fileWatch(file: string): () => void {
  if (file === ':memory:') return () => undefined
  const opened = statSync(file)
  return () => {
    const now = statSync(file, { throwIfNoEntry: false })
    if (now && now.dev === opened.dev && now.ino === opened.ino) return
    throw new PosternError('UNAVAILABLE', `The database file ${file} was ${now ? 'replaced' : 'removed'} while Postern ran; nothing was written. Restart postern serve (with the file restored, or to start anew).`, { condition: `the database file ${file} was ${now ? 'replaced' : 'removed'} while Postern ran; restart postern serve (with the file restored, or to start anew)` })
  }
}

/**
 * The file opened and set up. A file that is no database (or is damaged in its header) fails
 * here, at start: said as a request would be told, with the path, not as SQLite's bare words.
 */
function opened(file: string, translated: (err: unknown) => unknown): Database.Database {
  let db: Database.Database | undefined
  try {
    db = new Database(file)
    // SQLite gives the -wal and -shm files the database file's mode.
    if (file !== ':memory:') chmodSync(file, 0o600)
    // busy_timeout first: switching to WAL takes a lock another process may hold a moment.
    db.pragma('busy_timeout = 10000')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    return db
  } catch (err) {
    db?.close()
    throw translated(err)
  }
}

/** Told of each write: undefined when it was taken, the caller's error when the disk or file system refused it. */
export type WriteOutcomes = (refused: PosternError | undefined) => void

/**
 * Embedded SQLite (better-sqlite3). WAL with synchronous=FULL: a commit is on disk before the
 * call returns, so an acknowledged write survives a crash. better-sqlite3 is synchronous; one
 * queue keeps an async transaction's statements from interleaving with other callers'.
 */
export function openSqlite(file: string, onWrite?: WriteOutcomes): Driver {
  const translated = translator(file)
  // SQLite writes its journal (-wal, -shm) beside the file, even to read: a directory this user
  // cannot write is said as such, not as "unable to open database file" or a chmod's EPERM.
  if (file !== ':memory:') {
    writableDataDir(dirname(file), `The embedded database ${file} and its journal are written there.`)
    // SQLite opens a file it may not write read-only without a word, and says so only at the
    // first write, without the path; its journal files too are written (one left by a start as
    // root is the usual case).
    for (const f of [file, `${file}-wal`, `${file}-shm`]) writableFile(f, 'Postern writes the embedded database and its journal (-wal, -shm) beside it.')
  }
  const db = opened(file, translated)
  const sameFile = fileWatch(file)

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

  // A write taken, or refused by the disk or file system, is told to onWrite (the log says when
  // writes start being refused and when they are taken again). Taken means rows changed: a
  // statement or transaction that changed nothing (a purge with nothing to purge) wrote nothing,
  // and passes on a full disk too.
  const totalChanges = db.prepare('SELECT total_changes()').pluck()
  const storageErrors = <T>(fn: () => Promise<T>, write = false) => {
    const before = write && onWrite ? (totalChanges.get() as number) : 0
    return fn().then(
      (result) => {
        if (write && onWrite && (totalChanges.get() as number) > before) onWrite(undefined)
        return result
      },
      (err: unknown) => {
        const failure = translated(err)
        if (onWrite && failure instanceof PosternError && WRITES_REFUSED.has(primaryCode(err) ?? '')) onWrite(failure)
        return Promise.reject(failure)
      },
    )
  }
  return {
    dialect: 'sqlite',
    sql: {
      all: (text, params) => exclusive(() => storageErrors(() => direct.all(text, params))),
      get: (text, params) => exclusive(() => storageErrors(() => direct.get(text, params))),
      run: (text, params) =>
        exclusive(() =>
          storageErrors(async () => {
            sameFile()
            return direct.run(text, params)
          }, true),
        ),
    },
    transaction: (fn) =>
      exclusive(() =>
        storageErrors(async () => {
          sameFile()
          db.exec('BEGIN IMMEDIATE')
          try {
            const result = await fn(direct)
            db.exec('COMMIT')
            return result
          } catch (err) {
            if (db.inTransaction) db.exec('ROLLBACK')
            throw err
          }
        }, true),
      ),
    /** Readiness: the file is still the one opened (reads alone would go on from the old one). */
    check: async () => sameFile(),
    async listen() {
      // Followers poll the changes table; SQLite has no notifications across processes.
    },
    async close() {
      await exclusive(async () => db.close())
    },
  }
}
