import { afterAll, describe, expect, it } from 'vitest'
import { startPostern, type PosternProcess } from '../support/server.js'

/** An acknowledged write survives SIGKILL: the store commits to disk before the API answers. */
describe('durability on the embedded store', () => {
  let p: PosternProcess
  afterAll(() => p?.stop())

  it('every write acknowledged before a SIGKILL is there after the restart', async () => {
    p = await startPostern()
    const token = await p.ownerToken()
    const acknowledged: string[] = []
    let stop = false
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const email = `g${w}-${i}@example.com`
        try {
          const res = await fetch(`${p.controlUrl}/v1/groups`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ email }),
          })
          if (res.status === 200) acknowledged.push(email)
        } catch {
          return // the server is gone
        }
      }
    })
    await new Promise((r) => setTimeout(r, 1_500))
    await p.stop('SIGKILL')
    stop = true
    await Promise.all(writers)
    expect(acknowledged.length).toBeGreaterThan(20)

    await p.restart()
    const { body } = await p.api<{ groups: { email: string }[] }>('GET', '/v1/groups')
    const stored = new Set(body.groups.map((g) => g.email))
    const lost = acknowledged.filter((e) => !stored.has(e))
    expect(lost).toEqual([])
  })
})
