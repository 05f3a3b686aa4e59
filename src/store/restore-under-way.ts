import { ORGANIZATION } from '../iam/resources.js'
import { LATEST_SCHEMA, POSTERN_TABLES } from './migrations.js'
import type { Driver } from './sql.js'

/**
 * What a starting process finds of Postern's tables before it migrates anything: enough to tell
 * an empty database (migrate it, create the installation) from one a restore is still filling,
 * which must be neither migrated nor bootstrapped. Migrating would fail on the restore's tables
 * (an exit at every restart) or create tables the restore then cannot; bootstrapping into emptied
 * users and policies tables would make a new owner and organization policy, and the restore's
 * copy of those tables would then fail on their keys or leave duplicates: a new installation in
 * place of the backup.
 */
export interface SchemaState {
  /** Postern's tables that exist (POSTERN_TABLES). */
  present: string[]
  /** Of those, the ones without their primary key (PostgreSQL; pg_dump adds keys after all the data). */
  keyless: string[]
  /** Rows in schema_migrations (0 when it is missing), and the highest version among them. */
  migrations: number
  version: number
  /** Whether the installation table holds its id (migration 11 writes it with the table). */
  installation: boolean
  /** Whether the organization's policy exists (the first start writes it, nothing deletes it). */
  organization: boolean
  /** Whether the change feed records anything but signing keys (which a start writes before its bootstrap). */
  changes: boolean
}

/**
 * Why the database looks like a restore still under way, or undefined when it is empty or whole.
 * Every rule is a state Postern itself never leaves a database in: it migrates in transactions
 * that record their version with their tables, writes the installation id with its table, and
 * creates the organization's policy with the first user and change. `schema`: only what
 * migrating needs (a store used without `postern serve`, as the store's own tests do, records
 * changes without an organization).
 */
export function restoreUnderWay(s: SchemaState, rules: 'schema' | 'all' = 'all'): string | undefined {
  const others = s.present.filter((t) => t !== 'schema_migrations')
  if (others.length === 0) return undefined
  if (s.keyless.length > 0) return `Postern's tables are there without their primary keys (${some(s.keyless)}): a restore is still copying data in (pg_dump adds the keys after all the data)`
  if (s.migrations === 0) return `Postern's tables are there (${some(others)}) but schema_migrations records no migration: a restore has not copied it in yet`
  if (s.version >= LATEST_SCHEMA) {
    const missing = POSTERN_TABLES.filter((t) => !s.present.includes(t))
    if (missing.length > 0) return `schema version ${s.version} is recorded but tables are missing (${some(missing)}): a restore has not created them yet`
  }
  if (s.present.includes('installation') && !s.installation) return 'the installation table is empty: a restore has not copied its row in yet'
  if (rules === 'all' && !s.organization && s.changes) return `the change feed records changes but there is no ${ORGANIZATION} policy: a restore has not copied the policies in yet`
  return undefined
}

/**
 * The schema version of a whole installation restored from an older Postern's backup, or
 * undefined when the database is not one: empty, still being filled, or at the latest version.
 * A process that finds one at start migrates it as it migrates any older database; one that
 * finds it restored under it (change-follower.ts) does too, once it has stayed so a while.
 */
export function olderInstallation(s: SchemaState): number | undefined {
  const whole = s.migrations > 0 && s.organization && s.present.some((t) => t !== 'schema_migrations') && restoreUnderWay(s) === undefined
  return whole && s.version < LATEST_SCHEMA ? s.version : undefined
}

/** A few names, and how many more: the log line stays one line. */
function some(names: string[]): string {
  return names.length <= 4 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`
}

/**
 * Reads SchemaState, with statements that work on a database without Postern's tables.
 *
 * Processes started together on an empty database migrate and bootstrap while others read, so
 * the reads are not of one moment. They are made in the order a new database fills, so that each
 * rule compares something read earlier with something read later and a filling database never
 * looks like a restore: the version before the tables (whose tables are there by then), the tables
 * before the migrations that made them, the feed before the organization's policy.
 */
export async function readSchemaState(driver: Driver): Promise<SchemaState> {
  const first = async (sql: string, params: unknown[] = []) => Number(Object.values((await driver.sql.get(sql, params)) ?? {})[0] ?? 0)
  const tablesBefore = await posternTables(driver)
  const version = tablesBefore.some((t) => t.name === 'schema_migrations') ? await first(`SELECT COALESCE(MAX(version), 0) FROM schema_migrations`) : 0
  const found = await posternTables(driver)
  const present = found.map((r) => r.name).sort()
  const has = (t: string) => present.includes(t)
  const migrations = has('schema_migrations') ? await first(`SELECT COUNT(*) FROM schema_migrations`) : 0
  const installation = has('installation') && (await first(`SELECT COUNT(*) FROM installation`)) > 0
  // Whether any row is there, not how many: the feed of a large installation is long.
  const changes = has('changes') && (await first(`SELECT COUNT(*) FROM (SELECT 1 FROM changes WHERE kind <> 'signingKey' LIMIT 1) AS c`)) > 0
  const organization = has('policies') && (await first(`SELECT COUNT(*) FROM policies WHERE resource = ?`, [ORGANIZATION])) > 0
  return { present, keyless: found.filter((r) => !r.keyed).map((r) => r.name).sort(), migrations, version, installation, organization, changes }
}

/** Postern's tables that exist, and whether each has its primary key. */
async function posternTables(driver: Driver): Promise<{ name: string; keyed: unknown }[]> {
  const names = POSTERN_TABLES.map((t) => `'${t}'`).join(', ')
  return driver.dialect === 'postgres'
    ? driver.sql.all<{ name: string; keyed: unknown }>(
        // to_regclass resolves a name as the queries do (search_path); pg_constraint holds the key a restore adds last.
        `SELECT t.name, EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = to_regclass(t.name) AND k.contype = 'p') AS keyed
         FROM unnest(ARRAY[${names}]) AS t(name) WHERE to_regclass(t.name) IS NOT NULL`,
      )
    : // SQLite declares keys inside CREATE TABLE: a table that exists has its key.
      driver.sql.all<{ name: string; keyed: unknown }>(`SELECT name, 1 AS keyed FROM sqlite_master WHERE type = 'table' AND name IN (${names})`)
}
