import type { Change, ViewMark } from './records.js'
import { migrate } from './migrations.js'
import { olderInstallation, readSchemaState, restoreUnderWay } from './restore-under-way.js'
import { accessQueries } from './queries/access-requests.js'
import { change, journalQueries } from './queries/journal.js'
import { oauthQueries } from './queries/oauth.js'
import { principalQueries } from './queries/principals.js'
import { resourceQueries } from './queries/resources.js'
import { serviceSessionQueries } from './queries/service-sessions.js'
import { workforceQueries } from './queries/workforce.js'
import type { Dialect, Driver, Sql } from './sql.js'
import type { Store, StoreTx } from './store.js'

const CHANGES_CHANNEL = 'postern_changes'
// How many of the change feed's two tables exist (to_regclass resolves a name as a query would, by search_path).
const FEED_TABLES: Record<Dialect, string> = {
  postgres: `SELECT (to_regclass('installation') IS NOT NULL)::int + (to_regclass('changes') IS NOT NULL)::int AS tables`,
  sqlite: `SELECT COUNT(*) AS tables FROM sqlite_master WHERE type = 'table' AND name IN ('installation', 'changes')`,
}

/**
 * The tables a process's view is loaded from (Directory.loadAll, Keyring.reload), each with what
 * viewMark reads of it beside its row count: the maximum of columns every write of a row draws
 * anew (a time, a random etag or uid), so a table refilled with as many rows as it had is seen too.
 */
const VIEW_TABLES: readonly (readonly [table: string, ...witnesses: string[]])[] = [
  ['services', 'update_time', 'etag'],
  ['policies', 'etag'],
  ['users', 'update_time', 'uid'],
  ['service_accounts', 'uid', 'SUM(disabled)'],
  ['iam_groups', 'uid'],
  ['group_members', 'member', 'group_email'],
  ['workforce_pools', 'update_time'],
  ['workforce_providers', 'update_time'],
  ['signing_keys', 'kid'],
]
/** Every view table's count and witnesses in one statement, so they come from one snapshot. */
const VIEW_DIGEST = `SELECT ${VIEW_TABLES.flatMap(([table, ...witnesses]) => [
  `(SELECT COUNT(*) FROM ${table})`,
  ...witnesses.map((w) => `(SELECT ${w.includes('(') ? w : `MAX(${w})`} FROM ${table})`),
]).map((e, i) => `${e} AS v${i}`).join(', ')}`
/** The tables whose absence or missing primary key means the database is not (yet) whole: the view's, and the feed's. */
const KEYED_TABLES = [...VIEW_TABLES.map(([table]) => table), 'installation', 'changes']
const INCOMPLETE_TABLES: Record<Dialect, string> = {
  // to_regclass resolves the name as the queries do (search_path); pg_constraint holds the key a restore adds last.
  postgres: `SELECT t.name FROM unnest(ARRAY[${KEYED_TABLES.map((t) => `'${t}'`).join(', ')}]) AS t(name)
    WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = to_regclass(t.name) AND k.contype = 'p') ORDER BY t.name`,
  // SQLite declares keys inside CREATE TABLE: a table that exists has its key.
  sqlite: `SELECT t.name FROM (${KEYED_TABLES.map((t) => `SELECT '${t}' AS name`).join(' UNION ALL ')}) t
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_master m WHERE m.type = 'table' AND m.name = t.name) ORDER BY t.name`,
}

/** The Store over any Driver: the same SQL for SQLite and PostgreSQL. */
export function createSqlStore(driver: Driver, clock: () => number): Store {
  const txQueries = (sql: Sql, beforeFirstChange: () => Promise<void>): StoreTx => {
    const journal = journalQueries(sql, beforeFirstChange, clock)
    return {
      ...resourceQueries(sql),
      ...principalQueries(sql),
      ...oauthQueries(sql, journal.recordChange),
      ...serviceSessionQueries(sql),
      ...workforceQueries(sql),
      ...accessQueries(sql),
      ...journal,
    }
  }

  const transaction = <T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> =>
    driver.transaction((sql) => {
      let announced = false
      // On PostgreSQL, change sequence numbers must become visible in order, or a follower that
      // read seq 11 could miss seq 10 committed later. A transaction-scoped lock taken before the
      // number is drawn, and held until commit, makes commit order equal seq order. The NOTIFY is
      // delivered at commit (SQLite's BEGIN IMMEDIATE already serialises writers).
      const beforeFirstChange = async () => {
        if (announced || driver.dialect !== 'postgres') return
        announced = true
        await sql.get(`SELECT pg_advisory_xact_lock(707002)`)
        await sql.get(`SELECT pg_notify('${CHANGES_CHANNEL}', '')`)
      }
      return fn(txQueries(sql, beforeFirstChange))
    })

  const autocommit = txQueries(driver.sql, async () => {})
  /** Whether the tables feedMark reads exist, from the catalog (which a database without them still answers). */
  const hasFeedTables = async () => {
    const r = await driver.sql.get<{ tables: unknown }>(FEED_TABLES[driver.dialect])
    return Number(r?.tables) === 2
  }
  return {
    ...autocommit,
    kind: driver.dialect,
    transaction,
    // A change recorded on its own still needs the ordering guarantee above.
    recordChange: (kind, key) => transaction((tx) => tx.recordChange(kind, key)),
    // Methods of more than one statement must be atomic when called on their own too: a check and
    // its insert may not interleave with another caller's (two keys from one rotation), nor may a
    // membership or key be added between deleting a group's or an account's and deleting it.
    insertSigningKey: (k, unlessCreatedAfter) => transaction((tx) => tx.insertSigningKey(k, unlessCreatedAfter)),
    deleteGroup: (email) => transaction((tx) => tx.deleteGroup(email)),
    deleteServiceAccount: (email) => transaction((tx) => tx.deleteServiceAccount(email)),
    deleteWorkforcePool: (poolId) => transaction((tx) => tx.deleteWorkforcePool(poolId)),
    deleteWorkforceProvider: (poolId, providerId) => transaction((tx) => tx.deleteWorkforceProvider(poolId, providerId)),
    // Ending sessions and sign-ins announces it on the change feed in the same transaction.
    deleteSession: (hash) => transaction((tx) => tx.deleteSession(hash)),
    revokeRefreshFamily: (familyId) => transaction((tx) => tx.revokeRefreshFamily(familyId)),
    revokeRefreshTokensOf: (uid) => transaction((tx) => tx.revokeRefreshTokensOf(uid)),
    deleteSessionsOf: (uid) => transaction((tx) => tx.deleteSessionsOf(uid)),
    async changesSince(seq, limit): Promise<Change[]> {
      return (await driver.sql.all(`SELECT seq, kind, key, time FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`, [seq, limit])).map(change)
    },
    async feedMark(seq) {
      // An embedded file removed or replaced under the process: what it still reads is a file no
      // one will open again, and a view of it must not go on deciding (a restore that took access
      // away would not). PostgreSQL has no such check; its replacement shows in what it answers.
      try {
        await driver.check?.()
      } catch (err) {
        return { installation: '', latest: 0, replaced: (err as Error).message }
      }
      type Row = { installation: string | null; latest: unknown; seq: unknown; kind: string | null; key: string | null; time: unknown }
      let r: Row | undefined
      try {
        // One statement, so the three agree with each other (one snapshot).
        r = await driver.sql.get<Row>(
          `SELECT (SELECT MIN(id) FROM installation) AS installation, m.latest, c.seq, c.kind, c.key, c.time
           FROM (SELECT COALESCE(MAX(seq), 0) AS latest FROM changes) m LEFT JOIN changes c ON c.seq = ${seq === undefined ? 'm.latest' : '?'}`,
          seq === undefined ? [] : [seq],
        )
      } catch (err) {
        // A database without Postern's tables fails this read as one that cannot be reached
        // would; told apart, it is as sure a sign as another installation id that the database
        // is not the one the follower loaded (change-follower.ts), and needs no waiting out.
        if (await hasFeedTables().catch(() => true)) throw err
        return { installation: '', latest: 0, noSchema: true }
      }
      if (!r) return { installation: '', latest: 0 }
      const at = r.seq === null || r.seq === undefined ? undefined : change(r as Record<string, unknown>)
      return { installation: r.installation ?? '', latest: Number(r.latest), ...(at && { at }) }
    },
    async viewMark(): Promise<ViewMark> {
      const incomplete = (await driver.sql.all<{ name: string }>(INCOMPLETE_TABLES[driver.dialect])).map((r) => r.name)
      // A missing table would fail the digest's read; there is nothing whole to summarise yet.
      if (incomplete.length > 0) return { digest: '', incomplete }
      const r = await driver.sql.get<Record<string, unknown>>(VIEW_DIGEST)
      const restoring = restoreUnderWay(await readSchemaState(driver))
      return { digest: JSON.stringify(Object.values(r ?? {}).map((v) => (v === null || v === undefined ? null : String(v)))), incomplete, ...(restoring !== undefined && { restoring }) }
    },
    async olderInstallation() {
      const state = await readSchemaState(driver)
      const version = olderInstallation(state)
      return version === undefined ? undefined : { version, state: JSON.stringify(state) }
    },
    migrate: () => migrate(driver, clock()),
    listen: (onChange) => driver.listen(CHANGES_CHANNEL, onChange),
    async ping() {
      await driver.check?.()
      await driver.sql.get(`SELECT 1 AS one`)
    },
    close: () => driver.close(),
  }
}
