import { describe, expect, it } from 'vitest'
import { LATEST_SCHEMA, POSTERN_TABLES } from './migrations.js'
import { olderInstallation, restoreUnderWay, type SchemaState } from './restore-under-way.js'

/** A database Postern migrated and bootstrapped. */
const whole: SchemaState = { present: [...POSTERN_TABLES], keyless: [], migrations: LATEST_SCHEMA, version: LATEST_SCHEMA, installation: true, organization: true, changes: true }

describe('restoreUnderWay: what a starting process may migrate and bootstrap', () => {
  it('an empty database, or one whose first migration was interrupted, is new: migrate it', () => {
    expect(restoreUnderWay({ ...whole, present: [], migrations: 0, version: 0, installation: false, organization: false, changes: false })).toBeUndefined()
    expect(restoreUnderWay({ ...whole, present: ['schema_migrations'], migrations: 0, version: 0, installation: false, organization: false, changes: false })).toBeUndefined()
  })

  it('a whole database, an older one to migrate, and one migrated but not bootstrapped yet are not restores', () => {
    expect(restoreUnderWay(whole)).toBeUndefined()
    const old = POSTERN_TABLES.filter((t) => t !== 'installation')
    expect(restoreUnderWay({ ...whole, present: old, migrations: 10, version: 10, installation: false })).toBeUndefined()
    // A start writes its signing key before it bootstraps: that change alone is no restore.
    expect(restoreUnderWay({ ...whole, organization: false, changes: false })).toBeUndefined()
  })

  it('tables without their keys, unrecorded migrations, missing tables, an empty installation or feed without policies are a restore under way', () => {
    expect(restoreUnderWay({ ...whole, keyless: ['policies', 'users'] })).toMatch(/without their primary keys \(policies, users\)/)
    expect(restoreUnderWay({ ...whole, migrations: 0, version: 0 })).toMatch(/schema_migrations records no migration/)
    expect(restoreUnderWay({ ...whole, present: whole.present.filter((t) => t !== 'users') })).toMatch(/tables are missing \(users\)/)
    expect(restoreUnderWay({ ...whole, installation: false })).toMatch(/installation table is empty/)
    expect(restoreUnderWay({ ...whole, organization: false })).toMatch(/no organizations\/local policy/)
    // What the store alone needs in order to migrate (store tests record changes without an organization).
    expect(restoreUnderWay({ ...whole, organization: false }, 'schema')).toBeUndefined()
    expect(restoreUnderWay({ ...whole, installation: false }, 'schema')).toMatch(/installation table is empty/)
  })
})

describe('olderInstallation: what a running process migrates when it is restored under it', () => {
  const older: SchemaState = { ...whole, present: POSTERN_TABLES.filter((t) => t !== 'installation'), migrations: 10, version: 10, installation: false }

  it('a whole installation of an older schema: its version', () => {
    expect(olderInstallation(older)).toBe(10)
  })

  it('not the latest schema, an empty database, one a restore is filling, or one without the organization\'s policy', () => {
    expect(olderInstallation(whole)).toBeUndefined()
    expect(olderInstallation({ ...older, present: [], migrations: 0, version: 0, organization: false, changes: false })).toBeUndefined()
    expect(olderInstallation({ ...older, present: ['schema_migrations'] })).toBeUndefined()
    expect(olderInstallation({ ...older, keyless: ['users'] })).toBeUndefined()
    expect(olderInstallation({ ...older, migrations: 0, version: 0 })).toBeUndefined()
    // Policies not copied in yet, with or without changes before them.
    expect(olderInstallation({ ...older, organization: false })).toBeUndefined()
    expect(olderInstallation({ ...older, organization: false, changes: false })).toBeUndefined()
  })
})
