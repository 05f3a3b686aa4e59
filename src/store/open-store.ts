import { join } from 'node:path'
import { migrate } from './migrations.js'
import { openPostgres } from './postgres.js'
import { createSqlStore } from './sql-store.js'
import { openSqlite } from './sqlite.js'
import type { Store } from './store.js'

export interface StoreOptions {
  dataDir: string
  databaseUrl?: string
  clock: () => number
  onError: (err: Error) => void
}

/** PostgreSQL when a URL is given, else SQLite in the data dir; migrated and ready. */
export async function openStore(o: StoreOptions): Promise<Store> {
  const driver = o.databaseUrl ? openPostgres(o.databaseUrl, o.onError) : openSqlite(join(o.dataDir, 'postern.db'))
  try {
    await migrate(driver, o.clock())
  } catch (err) {
    await driver.close().catch(() => undefined)
    throw err
  }
  return createSqlStore(driver, o.clock)
}
