import { join } from 'node:path'
import { PosternError } from '../core/errors.js'
import { migrate } from './migrations.js'
import { openPostgres } from './postgres.js'
import { readSchemaState, restoreUnderWay } from './restore-under-way.js'
import { createSqlStore } from './sql-store.js'
import { openSqlite, type WriteOutcomes } from './sqlite.js'
import type { Store } from './store.js'

export interface StoreOptions {
  dataDir: string
  databaseUrl?: string
  clock: () => number
  onError: (err: Error) => void
  /** The embedded store's writes, taken or refused for the disk (sqlite.ts); PostgreSQL's are not told. */
  onWrite?: WriteOutcomes
}

/**
 * PostgreSQL when a URL is given, else SQLite in the data dir; migrated and ready. Refuses a
 * database a restore is still filling: by every rule for Postern's commands (`rules` 'all'), by
 * those migrating needs for a bare store (the default; restore-under-way.ts).
 */
export async function openStore(o: StoreOptions, rules: 'schema' | 'all' = 'schema'): Promise<Store> {
  const { store, restoring } = await open(o, rules)
  if (restoring === undefined) return store
  await store.close()
  throw new PosternError('FAILED_PRECONDITION', `The database is not whole: ${restoring}. Nothing was changed; run this again once the restore is over.`)
}

/**
 * As openStore, except that a database a restore is still filling (restore-under-way.ts) is
 * opened as it is, neither migrated nor otherwise written, and said why: `postern serve` then
 * fails closed until the restore is over, as when a database is restored under it.
 */
export function openStoreUnlessRestoring(o: StoreOptions): Promise<{ store: Store; restoring?: string }> {
  return open(o, 'all')
}

async function open(o: StoreOptions, rules: 'schema' | 'all'): Promise<{ store: Store; restoring?: string }> {
  const driver = o.databaseUrl ? openPostgres(o.databaseUrl, o.onError) : openSqlite(join(o.dataDir, 'postern.db'), o.onWrite)
  let restoring: string | undefined
  try {
    restoring = restoreUnderWay(await readSchemaState(driver), rules)
    if (restoring === undefined) await migrate(driver, o.clock())
  } catch (err) {
    await driver.close().catch(() => undefined)
    if (o.databaseUrl && err instanceof PosternError && err.status === 'UNAVAILABLE') throw unreachableAtStart(o.databaseUrl, err)
    throw err
  }
  return { store: createSqlStore(driver, o.clock), ...(restoring !== undefined && { restoring }) }
}

/**
 * At start, "unreachable; nothing was changed" (what a request is told) says too little: which
 * database, and what the connection met. The URL's credentials are left out.
 */
function unreachableAtStart(url: string, err: PosternError): PosternError {
  let where = 'the PostgreSQL of --database-url'
  try {
    const u = new URL(url)
    where = `the PostgreSQL at ${u.host || 'the local socket'}${u.pathname.length > 1 ? ` (database ${decodeURIComponent(u.pathname.slice(1))})` : ''}`
  } catch {
    // Not a URL the WHATWG parser reads (socket:…): named by its flag.
  }
  const cause = (err.cause as Error | undefined)?.message
  return new PosternError('UNAVAILABLE', `Cannot reach ${where}${cause ? `: ${cause}` : ''}. Check --database-url and that the database is running.`, { cause: err })
}
