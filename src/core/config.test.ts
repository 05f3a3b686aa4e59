import { describe, expect, it } from 'vitest'
import { buildServeConfig } from './config.js'

describe('--database-url', () => {
  it('takes PostgreSQL URLs and refuses any other scheme, without repeating the URL (it may hold a password)', () => {
    for (const url of ['postgres://postern@db:5432/postern', 'postgresql://postern:pw@db/postern', 'socket:/var/run/postgresql?db=postern']) {
      expect(buildServeConfig({ databaseUrl: url }, {}).databaseUrl).toBe(url)
    }
    expect(buildServeConfig({}, { POSTERN_DATABASE_URL: 'postgres://db/p' }).databaseUrl).toBe('postgres://db/p')
    for (const url of ['mysql://root:hunter2@127.0.0.1:3306/postern', 'postgress://root:hunter2@db/p', 'root:hunter2@db/p']) {
      let message = ''
      try {
        buildServeConfig({ databaseUrl: url }, {})
      } catch (err) {
        message = (err as Error).message
      }
      expect(message, url).toMatch(/^--database-url \(or POSTERN_DATABASE_URL\) takes a PostgreSQL URL, postgres:\/\/USER@HOST:PORT\/DATABASE/)
      expect(message).not.toContain('hunter2')
    }
  })
})
