import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { GroupIndex } from './groups.js'
import type { Member } from './members.js'

const index = (groups: Record<string, string[]>) => new GroupIndex(new Map(Object.entries(groups).map(([g, ms]) => [g, new Set(ms as Member[])])))

describe('GroupIndex.groupsOf', () => {
  const groups = index({
    'g1@x.com': ['user:ann@x.com', 'serviceAccount:ci@p.iam.postern.internal'],
    'g2@x.com': ['group:g1@x.com'],
    'g3@x.com': ['group:g2@x.com', 'user:bob@x.com'],
    'other@x.com': ['user:bob@x.com'],
    'empty@x.com': [],
  })

  it('is transitive through nested groups', () => {
    expect(groups.groupsOf('user:ann@x.com')).toEqual(new Set(['g1@x.com', 'g2@x.com', 'g3@x.com']))
    expect(groups.groupsOf('serviceAccount:ci@p.iam.postern.internal')).toEqual(new Set(['g1@x.com', 'g2@x.com', 'g3@x.com']))
    expect(groups.groupsOf('user:bob@x.com')).toEqual(new Set(['g3@x.com', 'other@x.com']))
    expect(groups.groupsOf('group:g2@x.com')).toEqual(new Set(['g3@x.com']))
  })

  it('knows nothing of non-members', () => {
    expect(groups.groupsOf('user:carol@x.com').size).toBe(0)
    expect(groups.groupsOf('group:g3@x.com').size).toBe(0)
  })

  it('terminates and is complete when the data holds a cycle', () => {
    const cyclic = index({
      'a@x.com': ['group:b@x.com', 'user:ann@x.com'],
      'b@x.com': ['group:c@x.com'],
      'c@x.com': ['group:a@x.com'],
      'self@x.com': ['group:self@x.com', 'user:bob@x.com'],
    })
    expect(cyclic.groupsOf('user:ann@x.com')).toEqual(new Set(['a@x.com', 'b@x.com', 'c@x.com']))
    expect(cyclic.groupsOf('group:a@x.com')).toEqual(new Set(['a@x.com', 'b@x.com', 'c@x.com']))
    expect(cyclic.groupsOf('user:bob@x.com')).toEqual(new Set(['self@x.com']))
  })

  it('follows nesting of any depth', () => {
    const depth = 50
    const chain: Record<string, string[]> = { 'g0@x.com': ['user:ann@x.com'] }
    for (let i = 1; i < depth; i++) chain[`g${i}@x.com`] = [`group:g${i - 1}@x.com`]
    expect(index(chain).groupsOf('user:ann@x.com').size).toBe(depth)
  })
})

describe('GroupIndex.wouldCreateCycle', () => {
  const groups = index({
    'a@x.com': ['group:b@x.com'],
    'b@x.com': ['group:c@x.com'],
    'c@x.com': ['user:ann@x.com'],
    'd@x.com': [],
  })

  it('refuses a group inside itself', () => {
    expect(groups.wouldCreateCycle('d@x.com', 'group:d@x.com')).toBe(true)
    expect(index({}).wouldCreateCycle('new@x.com', 'group:new@x.com')).toBe(true)
  })

  it('refuses a group inside one of its own members, at any distance', () => {
    expect(groups.wouldCreateCycle('b@x.com', 'group:a@x.com')).toBe(true) // a → b → a
    expect(groups.wouldCreateCycle('c@x.com', 'group:a@x.com')).toBe(true) // a → b → c → a
    expect(groups.wouldCreateCycle('c@x.com', 'group:b@x.com')).toBe(true)
  })

  it('allows edges that keep the graph acyclic', () => {
    expect(groups.wouldCreateCycle('a@x.com', 'group:c@x.com')).toBe(false) // a shortcut, no cycle
    expect(groups.wouldCreateCycle('d@x.com', 'group:a@x.com')).toBe(false)
    expect(groups.wouldCreateCycle('a@x.com', 'group:d@x.com')).toBe(false)
    expect(groups.wouldCreateCycle('a@x.com', 'user:ann@x.com')).toBe(false)
    expect(groups.wouldCreateCycle('a@x.com', 'serviceAccount:ci@p.iam.postern.internal')).toBe(false)
  })

  it('guarding every insertion keeps any graph acyclic (property)', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => `${n}@x.com`)
    const edge = fc.tuple(fc.constantFrom(...names), fc.constantFrom(...names))
    fc.assert(
      fc.property(fc.array(edge, { maxLength: 30 }), (edges) => {
        const data = new Map<string, Set<Member>>(names.map((n) => [n, new Set<Member>()]))
        for (const [group, inner] of edges) {
          const member: Member = `group:${inner}`
          if (!new GroupIndex(data).wouldCreateCycle(group, member)) data.get(group)!.add(member)
        }
        const finalIndex = new GroupIndex(data)
        // acyclic: no group is (transitively) inside itself
        return names.every((n) => !finalIndex.groupsOf(`group:${n}`).has(n))
      }),
    )
  })
})
