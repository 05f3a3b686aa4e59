import type { TestProject } from 'vitest/node'
import { postgresAvailable } from './postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: boolean
  }
}

/**
 * PostgreSQL-backed tests are part of the suite, not an option: without a reachable server they
 * are skipped with a loud warning on a developer's machine, and the run fails under CI=true.
 */
export default async function setup(project: TestProject) {
  const ok = await postgresAvailable()
  project.provide('postgres', ok)
  if (ok) return
  const banner = [
    '',
    '#'.repeat(78),
    '#  PostgreSQL is NOT reachable at 127.0.0.1:5432: PostgreSQL store tests are SKIPPED.',
    '#  Start it (pg_ctlcluster <version> main start) or set POSTERN_TEST_PG_URL.',
    '#'.repeat(78),
    '',
  ].join('\n')
  console.error(banner)
  if (process.env.CI === 'true') throw new Error('PostgreSQL is required under CI=true, and it is not reachable.')
}
