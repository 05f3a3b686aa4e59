import { randomUUID } from 'node:crypto'
import type { Dialect, Driver } from './sql.js'

/**
 * Versioned schema migrations, applied in order inside one transaction each; a migration, once
 * released, is never edited — add a new one. DDL is written once; the few dialect differences are
 * the placeholders below.
 */
interface Migration {
  version: number
  name: string
  statements: string[]
  /** Statements for one dialect only; the version is recorded on both, so versions mean the same everywhere. */
  only?: Dialect
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    statements: [
      `CREATE TABLE projects (project_id TEXT PRIMARY KEY, uid TEXT NOT NULL, create_time BIGINT NOT NULL)`,
      `CREATE TABLE services (
        project_id TEXT NOT NULL, service_id TEXT NOT NULL, uid TEXT NOT NULL, upstream TEXT NOT NULL,
        description TEXT NOT NULL, invoker_iam_disabled INTEGER NOT NULL, custom_audiences TEXT NOT NULL,
        strict_audience INTEGER NOT NULL, timeout_seconds INTEGER NOT NULL, labels TEXT NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL, creator TEXT NOT NULL, last_modifier TEXT NOT NULL,
        etag TEXT NOT NULL, PRIMARY KEY (project_id, service_id))`,
      `CREATE TABLE policies (resource TEXT PRIMARY KEY, policy TEXT NOT NULL, etag TEXT NOT NULL)`,
      `CREATE TABLE users (email TEXT PRIMARY KEY, uid TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
        password_hash TEXT, disabled INTEGER NOT NULL, create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`,
      `CREATE TABLE iam_groups (email TEXT PRIMARY KEY, uid TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
        description TEXT NOT NULL, create_time BIGINT NOT NULL)`,
      `CREATE TABLE group_members (group_email TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (group_email, member))`,
      `CREATE INDEX group_members_member ON group_members (member)`,
      `CREATE TABLE service_accounts (email TEXT PRIMARY KEY, project_id TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL, disabled INTEGER NOT NULL, create_time BIGINT NOT NULL)`,
      `CREATE TABLE service_account_keys (key_id TEXT PRIMARY KEY, sa_email TEXT NOT NULL, public_key_pem TEXT NOT NULL,
        create_time BIGINT NOT NULL)`,
      `CREATE INDEX service_account_keys_sa ON service_account_keys (sa_email)`,
      `CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, public_jwk TEXT NOT NULL, private_key TEXT NOT NULL,
        create_time BIGINT NOT NULL, activate_time BIGINT NOT NULL, expire_time BIGINT NOT NULL)`,
      `CREATE TABLE refresh_tokens (token_hash TEXT PRIMARY KEY, family_id TEXT NOT NULL, subject_uid TEXT NOT NULL,
        client_id TEXT NOT NULL, scope TEXT NOT NULL, auth_time BIGINT NOT NULL, create_time BIGINT NOT NULL,
        expire_time BIGINT NOT NULL, used_time BIGINT, revoked INTEGER NOT NULL)`,
      `CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
      `CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject_uid)`,
      `CREATE TABLE auth_codes (code_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, redirect_uri TEXT NOT NULL,
        code_challenge TEXT NOT NULL, subject_uid TEXT NOT NULL, scope TEXT NOT NULL, nonce TEXT, auth_time BIGINT NOT NULL,
        expire_time BIGINT NOT NULL, used_time BIGINT, family_id TEXT)`,
      `CREATE TABLE device_codes (device_code_hash TEXT PRIMARY KEY, user_code TEXT NOT NULL UNIQUE, client_id TEXT NOT NULL,
        scope TEXT NOT NULL, expire_time BIGINT NOT NULL, interval_seconds INTEGER NOT NULL, last_poll_time BIGINT,
        subject_uid TEXT, auth_time BIGINT, denied INTEGER NOT NULL, consumed INTEGER NOT NULL)`,
      `CREATE TABLE sessions (session_hash TEXT PRIMARY KEY, subject_uid TEXT NOT NULL, csrf_token TEXT NOT NULL,
        create_time BIGINT NOT NULL, expire_time BIGINT NOT NULL)`,
      `CREATE INDEX sessions_subject ON sessions (subject_uid)`,
      `CREATE TABLE once_values (key TEXT PRIMARY KEY, expire_time BIGINT NOT NULL)`,
      `CREATE TABLE event_counts (key TEXT NOT NULL, window_start BIGINT NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (key, window_start))`,
      `CREATE TABLE audit_log (id {{serial}}, time BIGINT NOT NULL, principal TEXT NOT NULL, method TEXT NOT NULL,
        resource TEXT NOT NULL, outcome TEXT NOT NULL, details TEXT NOT NULL)`,
      `CREATE INDEX audit_log_resource ON audit_log (resource, id)`,
      `CREATE INDEX audit_log_principal ON audit_log (principal, id)`,
      `CREATE TABLE changes (seq {{serial}}, kind TEXT NOT NULL, key TEXT NOT NULL, time BIGINT NOT NULL)`,
    ],
  },
  {
    // PostgreSQL sorts text by the database's locale (en_US puts 'a_c' before 'a-b' before 'aa'),
    // SQLite by code point. Lists must come back in one order whatever the server's locale, and
    // keys compared with < or > must agree with that order, so the sorted keys use "C".
    version: 2,
    name: 'code-point order for listed keys on PostgreSQL',
    only: 'postgres',
    statements: [
      ['projects', 'project_id'], ['services', 'project_id'], ['services', 'service_id'], ['policies', 'resource'],
      ['users', 'email'], ['iam_groups', 'email'], ['group_members', 'group_email'], ['group_members', 'member'],
      ['service_accounts', 'email'], ['service_account_keys', 'key_id'], ['signing_keys', 'kid'],
    ].map(([table, column]) => `ALTER TABLE ${table} ALTER COLUMN ${column} TYPE TEXT COLLATE "C"`),
  },
  {
    version: 3,
    name: 'workforce pools, providers and federated subjects',
    statements: [
      `CREATE TABLE workforce_pools (pool_id TEXT PRIMARY KEY, uid TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
        description TEXT NOT NULL, session_duration_seconds INTEGER NOT NULL, disabled INTEGER NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL)`,
      `CREATE TABLE workforce_providers (pool_id TEXT NOT NULL, provider_id TEXT NOT NULL, uid TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL, description TEXT NOT NULL, issuer_uri TEXT NOT NULL, client_id TEXT NOT NULL, jwks_json TEXT,
        attribute_mapping TEXT NOT NULL, attribute_condition TEXT NOT NULL, disabled INTEGER NOT NULL, console_sign_in INTEGER NOT NULL,
        create_time BIGINT NOT NULL, update_time BIGINT NOT NULL, PRIMARY KEY (pool_id, provider_id))`,
      `CREATE TABLE federated_subjects (uid TEXT PRIMARY KEY, pool_id TEXT NOT NULL, subject TEXT NOT NULL, provider_id TEXT NOT NULL,
        display_name TEXT NOT NULL, email TEXT, groups_json TEXT NOT NULL, attributes_json TEXT NOT NULL, create_time BIGINT NOT NULL,
        last_sign_in_time BIGINT NOT NULL, UNIQUE (pool_id, subject))`,
    ],
  },
  {
    // As version 2, for the new tables' listed keys.
    version: 4,
    name: 'code-point order for workforce keys on PostgreSQL',
    only: 'postgres',
    statements: [['workforce_pools', 'pool_id'], ['workforce_providers', 'pool_id'], ['workforce_providers', 'provider_id'], ['federated_subjects', 'subject']]
      .map(([table, column]) => `ALTER TABLE ${table} ALTER COLUMN ${column} TYPE TEXT COLLATE "C"`),
  },
  {
    // Denied invocations are counted per principal, service and minute in one row (the unique
    // aggregate key), so a flood of them costs a bounded number of rows; entries older than the
    // retention are purged by time.
    version: 5,
    name: 'audit log: aggregated entries and purging by time',
    statements: [
      `ALTER TABLE audit_log ADD COLUMN occurrences INTEGER NOT NULL DEFAULT 1`,
      `ALTER TABLE audit_log ADD COLUMN aggregate_key TEXT`,
      `CREATE UNIQUE INDEX audit_log_aggregate ON audit_log (aggregate_key)`,
      `CREATE INDEX audit_log_time ON audit_log (time)`,
    ],
  },
  {
    // A federated subject is one provider's (by the provider's uid), not the pool's: the same
    // subject through two providers is two sign-in identities, each ending with its provider.
    // Subjects whose provider is gone could never sign in again and are not carried over.
    version: 6,
    name: 'federated subjects per provider',
    statements: [
      `CREATE TABLE federated_subjects_by_provider (uid TEXT PRIMARY KEY, pool_id TEXT NOT NULL, subject TEXT NOT NULL,
        provider_id TEXT NOT NULL, provider_uid TEXT NOT NULL, display_name TEXT NOT NULL, email TEXT, groups_json TEXT NOT NULL,
        attributes_json TEXT NOT NULL, create_time BIGINT NOT NULL, last_sign_in_time BIGINT NOT NULL, UNIQUE (provider_uid, subject))`,
      `INSERT INTO federated_subjects_by_provider (uid, pool_id, subject, provider_id, provider_uid, display_name, email, groups_json,
        attributes_json, create_time, last_sign_in_time)
       SELECT f.uid, f.pool_id, f.subject, f.provider_id, p.uid, f.display_name, f.email, f.groups_json, f.attributes_json, f.create_time,
        f.last_sign_in_time FROM federated_subjects f JOIN workforce_providers p ON p.pool_id = f.pool_id AND p.provider_id = f.provider_id`,
      `DROP TABLE federated_subjects`,
      `ALTER TABLE federated_subjects_by_provider RENAME TO federated_subjects`,
      `CREATE INDEX federated_subjects_pool ON federated_subjects (pool_id, subject)`,
    ],
  },
  {
    // As version 4, for the rebuilt table.
    version: 7,
    name: 'code-point order for federated subjects on PostgreSQL',
    only: 'postgres',
    statements: ['pool_id', 'subject', 'provider_id'].map((column) => `ALTER TABLE federated_subjects ALTER COLUMN ${column} TYPE TEXT COLLATE "C"`),
  },
  {
    // Access requests, the policy tests of services and projects, and each service's limit on
    // how long a request may last. Every row names the resource's uid, so what was said about a
    // deleted service never applies to a new one of the same name.
    version: 8,
    name: 'access requests, access tests and access request settings',
    statements: [
      `CREATE TABLE access_requests (id TEXT PRIMARY KEY, resource TEXT NOT NULL, resource_uid TEXT NOT NULL, requester TEXT NOT NULL, requester_uid TEXT NOT NULL,
        role TEXT NOT NULL, reason TEXT NOT NULL, requested_seconds INTEGER NOT NULL, state TEXT NOT NULL, create_time BIGINT NOT NULL,
        decider TEXT, decide_time BIGINT, decision_note TEXT NOT NULL, granted_seconds INTEGER, expire_time BIGINT, end_time BIGINT)`,
      `CREATE INDEX access_requests_state ON access_requests (state, expire_time)`,
      `CREATE INDEX access_requests_requester ON access_requests (requester, state)`,
      `CREATE INDEX access_requests_created ON access_requests (create_time)`,
      `CREATE TABLE access_tests (resource TEXT PRIMARY KEY, resource_uid TEXT NOT NULL, tests TEXT NOT NULL,
        update_time BIGINT NOT NULL, updater TEXT NOT NULL)`,
      `CREATE TABLE access_request_settings (resource TEXT PRIMARY KEY, resource_uid TEXT NOT NULL, max_duration_seconds INTEGER NOT NULL,
        update_time BIGINT NOT NULL, updater TEXT NOT NULL)`,
    ],
  },
  {
    // Browsers as callers: a service says whether browsers may sign in to it (on unless turned
    // off); a sign-in yields one-time codes for a service's host and sessions on that host.
    version: 9,
    name: 'browser access: per-service switch, one-time sign-in codes, service sessions',
    statements: [
      `ALTER TABLE services ADD COLUMN browser_access INTEGER NOT NULL DEFAULT 1`,
      `CREATE TABLE service_sign_in_codes (code_hash TEXT PRIMARY KEY, service_uid TEXT NOT NULL, return_path TEXT NOT NULL,
        state TEXT NOT NULL, subject_uid TEXT NOT NULL, sign_in_session_hash TEXT NOT NULL, expire_time BIGINT NOT NULL, used_time BIGINT)`,
      `CREATE TABLE service_sessions (session_hash TEXT PRIMARY KEY, sign_in_session_hash TEXT NOT NULL, subject_uid TEXT NOT NULL,
        service_uid TEXT NOT NULL, create_time BIGINT NOT NULL, expire_time BIGINT NOT NULL)`,
      `CREATE INDEX service_sessions_sign_in ON service_sessions (sign_in_session_hash)`,
      `CREATE INDEX service_sessions_subject ON service_sessions (subject_uid)`,
    ],
  },
  {
    // Services whose upstream speaks HTTP/2 without TLS (h2c, prior knowledge), as Cloud Run's
    // "use HTTP/2 end-to-end": the gateway forwards to them over one multiplexed session, with
    // trailers and streams intact (what gRPC needs). Off by default: HTTP/1.1 as before.
    version: 10,
    name: 'services: use HTTP/2 to the upstream',
    statements: [`ALTER TABLE services ADD COLUMN use_http2 INTEGER NOT NULL DEFAULT 0`],
  },
  {
    // What tells one database from another: a running process compares it with the one it loaded
    // from, so a database dropped and created anew (or another one put in its place) under it is
    // noticed and reloaded rather than followed as if it were the same (change-follower.ts).
    // Random, drawn once by whichever process applies this migration.
    version: 11,
    name: 'installation id',
    statements: [`CREATE TABLE installation (id TEXT PRIMARY KEY)`, `INSERT INTO installation (id) VALUES ('{{random-id}}')`],
  },
  {
    // When and from which address a device asked for its code, which /device shows whoever is
    // about to approve it (RFC 8628 §5.4, remote phishing). Codes stored before keep NULLs, shown
    // as unknown; they expire within minutes anyway.
    version: 12,
    name: 'device codes: when and from where they were asked for',
    statements: [
      `ALTER TABLE device_codes ADD COLUMN request_time BIGINT`,
      `ALTER TABLE device_codes ADD COLUMN request_address TEXT`,
    ],
  },
  {
    // The account the device asked to be signed in as (`postern auth login ACCOUNT --no-browser`
    // sends it as login_hint): /device names it, and another account cannot approve the code.
    // Codes stored before keep NULL: no account was asked for.
    version: 13,
    name: 'device codes: the account asked for',
    statements: [`ALTER TABLE device_codes ADD COLUMN login_hint TEXT`],
  },
  {
    // A service account's description (Google's IAM field, `gcloud iam service-accounts create
    // --description`): accepted before but not kept. Accounts stored before have none.
    version: 14,
    name: 'service accounts: description',
    statements: [`ALTER TABLE service_accounts ADD COLUMN description TEXT NOT NULL DEFAULT ''`],
  },
]

const SERIAL: Record<Dialect, string> = {
  sqlite: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  postgres: 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY',
}

export const LATEST_SCHEMA = MIGRATIONS.at(-1)!.version

/**
 * Every table of the latest schema, schema_migrations included, as the migrations leave them
 * (created, renamed, dropped): what tells a database holding some of Postern's tables from an
 * empty one (restore-under-way.ts).
 */
export const POSTERN_TABLES: readonly string[] = (() => {
  const tables = new Set(['schema_migrations'])
  for (const statement of MIGRATIONS.flatMap((m) => m.statements)) {
    const created = /^CREATE TABLE (\w+)/.exec(statement)?.[1]
    const dropped = /^DROP TABLE (\w+)/.exec(statement)?.[1]
    const renamed = /^ALTER TABLE (\w+) RENAME TO (\w+)/.exec(statement)
    if (created) tables.add(created)
    if (dropped) tables.delete(dropped)
    if (renamed) {
      tables.delete(renamed[1]!)
      tables.add(renamed[2]!)
    }
  }
  return [...tables].sort()
})()

/**
 * Applies what is missing. Safe when several processes start at once: one lock, one winner; the
 * others then see its work and skip it. (On SQLite, BEGIN IMMEDIATE is the lock.)
 */
export async function migrate(driver: Driver, now: number): Promise<void> {
  const postgres = driver.dialect === 'postgres'
  await driver.transaction(async (sql) => {
    // Before the table exists there is nothing to LOCK; CREATE TABLE IF NOT EXISTS is not safe
    // against itself, so concurrent creators queue on an advisory lock instead.
    if (postgres) await sql.get(`SELECT pg_advisory_xact_lock(707001)`)
    await sql.run(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_time BIGINT NOT NULL)`)
  })
  for (const m of MIGRATIONS) {
    await driver.transaction(async (sql) => {
      // LOCK TABLE, unlike any SELECT (such as one taking an advisory lock), does not fix the
      // serializable transaction's snapshot, so the check below sees a migration another process
      // committed while this one waited (PostgreSQL manual, "Data Consistency Checks at the Application Level").
      if (postgres) await sql.run(`LOCK TABLE schema_migrations IN EXCLUSIVE MODE`)
      const done = await sql.get(`SELECT version FROM schema_migrations WHERE version = ?`, [m.version])
      if (done) return
      const statements = m.only && m.only !== driver.dialect ? [] : m.statements
      for (const statement of statements) await sql.run(statement.replaceAll('{{serial}}', SERIAL[driver.dialect]).replaceAll('{{random-id}}', randomUUID()))
      await sql.run(`INSERT INTO schema_migrations (version, name, applied_time) VALUES (?, ?, ?)`, [m.version, m.name, now])
    })
  }
  const newest = await driver.sql.get<{ v: number | null }>(`SELECT MAX(version) AS v FROM schema_migrations`)
  if ((newest?.v ?? 0) > LATEST_SCHEMA) {
    throw new Error(`The database schema (version ${newest?.v}) is newer than this Postern understands (${LATEST_SCHEMA}); upgrade Postern.`)
  }
}
