import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/**
 * `services update --add-custom-audiences` reads the service's list, adds to it and writes it
 * back. Guarded by the etag, writers racing for one service each start over when another got
 * there first, so every audience added ends up in the list; without it, the last writer wins and
 * the others' audiences are lost.
 */
describe('services update --add-custom-audiences under concurrent changes', () => {
  let p: PosternProcess
  beforeAll(async () => {
    p = await startPostern()
    expect((await p.cli(['services', 'create', 'shared', '--upstream', 'http://127.0.0.1:9000'])).code).toBe(0)
  })
  afterAll(() => p?.stop())

  it('eight writers at once: every audience added is kept', async () => {
    const audiences = Array.from({ length: 8 }, (_, i) => `https://audience-${i}.example.com`)
    const results = await Promise.all(audiences.map((a) => p.cli(['services', 'update', 'shared', `--add-custom-audiences=${a}`])))
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const shown = await p.cli(['services', 'describe', 'shared', '--format=json'])
    expect((JSON.parse(shown.stdout) as { customAudiences: string[] }).customAudiences.sort()).toEqual(audiences.sort())
  })

  it('a removal racing additions keeps the additions', async () => {
    const added = ['https://late-0.example.com', 'https://late-1.example.com', 'https://late-2.example.com']
    const results = await Promise.all([
      ...added.map((a) => p.cli(['services', 'update', 'shared', `--add-custom-audiences=${a}`])),
      p.cli(['services', 'update', 'shared', '--remove-custom-audiences=https://audience-0.example.com']),
    ])
    for (const r of results) expect(r.code, r.stderr).toBe(0)
    const shown = JSON.parse((await p.cli(['services', 'describe', 'shared', '--format=json'])).stdout) as { customAudiences: string[] }
    expect(shown.customAudiences).toEqual(expect.arrayContaining(added))
    expect(shown.customAudiences).not.toContain('https://audience-0.example.com')
  })
})
