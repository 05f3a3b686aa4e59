import { describe, expect, it } from 'vitest'
import { addMember } from './binding-edits.js'
import { readModifyWrite, retryOnConflict } from './read-modify-write.js'
import type { Policy } from './types.js'

const conflict = () => Object.assign(new Error('concurrent change'), { status: 'ABORTED' })
const noPause = { sleep: async () => {} }

/** A policy endpoint in memory that aborts a write whose etag is stale, as the server does. */
function endpoint(initial: Policy) {
  let stored = initial
  let version = 0
  let writes = 0
  return {
    get stored() {
      return stored
    },
    get writes() {
      return writes
    },
    /** Another writer's change, made between a read and a write. */
    interfere: (edit: (p: Policy) => Policy) => {
      stored = { ...edit(stored), etag: `e${++version}` }
    },
    read: async () => stored,
    write: async (p: Policy) => {
      if (p.etag !== stored.etag) throw conflict()
      writes++
      stored = { ...p, etag: `e${++version}` }
      return stored
    },
  }
}

describe('readModifyWrite', () => {
  it('re-applies the edit to the fresh policy after a concurrent change, losing neither', async () => {
    const server = endpoint({ version: 1, etag: 'e0', bindings: [] })
    let first = true
    const result = await readModifyWrite(
      {
        read: server.read,
        write: async (p) => {
          if (first) server.interfere((q) => addMember(q, 'user:other@x.com', 'roles/run.viewer'))
          first = false
          return server.write(p)
        },
      },
      (p) => addMember(p, 'user:ann@x.com', 'roles/run.invoker'),
      noPause,
    )
    expect(result.bindings).toEqual([
      { role: 'roles/run.viewer', members: ['user:other@x.com'] },
      { role: 'roles/run.invoker', members: ['user:ann@x.com'] },
    ])
  })

  it('writes nothing when the edit changes nothing', async () => {
    const server = endpoint({ version: 1, etag: 'e0', bindings: [{ role: 'roles/run.invoker', members: ['user:ann@x.com'] }] })
    await readModifyWrite(server, (p) => addMember(p, 'user:ann@x.com', 'roles/run.invoker'), noPause)
    expect(server.writes).toBe(0)
  })

  it('sets version 3 when a binding has a condition', async () => {
    const server = endpoint({ version: 1, etag: 'e0', bindings: [] })
    const result = await readModifyWrite(server, (p) => addMember(p, 'user:ann@x.com', 'roles/run.invoker', { title: 't', expression: 'true' }), noPause)
    expect(result.version).toBe(3)
  })
})

describe('retryOnConflict', () => {
  it('gives up after the attempts it is allowed, with growing pauses, and passes other errors straight through', async () => {
    const pauses: number[] = []
    let tries = 0
    await expect(retryOnConflict(async () => { tries++; throw conflict() }, { attempts: 4, firstPauseMs: 100, sleep: async (ms) => void pauses.push(ms) })).rejects.toThrow('concurrent change')
    expect(tries).toBe(4)
    expect(pauses).toHaveLength(3)
    pauses.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(50 * 2 ** i)
      expect(ms).toBeLessThanOrEqual(150 * 2 ** i)
    })
    tries = 0
    await expect(retryOnConflict(async () => { tries++; throw new Error('other') }, noPause)).rejects.toThrow('other')
    expect(tries).toBe(1)
  })
})
