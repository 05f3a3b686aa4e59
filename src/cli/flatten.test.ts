import { describe, expect, it } from 'vitest'
import { flattenRecords, parseFlatten } from './flatten.js'

const policy = {
  etag: 'Bw1',
  bindings: [
    { role: 'roles/run.invoker', members: ['user:a@x.com', 'group:g@x.com'] },
    { role: 'roles/run.developer', members: ['user:a@x.com'], condition: { title: 'until Friday' } },
  ],
}

describe('--flatten', () => {
  it("bindings[].members makes one record per binding and member, each with one role and one member, as gcloud's", () => {
    expect(parseFlatten('bindings[].members')).toEqual([['bindings'], ['bindings', 'members']])
    expect(flattenRecords([policy], parseFlatten('bindings[].members'))).toEqual([
      { etag: 'Bw1', bindings: { role: 'roles/run.invoker', members: 'user:a@x.com' } },
      { etag: 'Bw1', bindings: { role: 'roles/run.invoker', members: 'group:g@x.com' } },
      { etag: 'Bw1', bindings: { role: 'roles/run.developer', members: 'user:a@x.com', condition: { title: 'until Friday' } } },
    ])
  })

  it('a key flattens only its own list; keys apply in order; the records it was given are left as they were', () => {
    const byBinding = flattenRecords([policy], parseFlatten('bindings'))
    expect(byBinding.map((r) => (r as { bindings: { members: string[] } }).bindings.members)).toEqual([['user:a@x.com', 'group:g@x.com'], ['user:a@x.com']])
    expect(flattenRecords([policy], parseFlatten('bindings, bindings.members'))).toHaveLength(3)
    expect(policy.bindings[0]!.members).toEqual(['user:a@x.com', 'group:g@x.com'])
  })

  it('an empty list drops its record, as gcloud does; a key that holds no list keeps the record as it is', () => {
    expect(flattenRecords([{ etag: 'Bw1', bindings: [] }], parseFlatten('bindings[].members'))).toEqual([])
    expect(flattenRecords([{ etag: 'Bw1' }], parseFlatten('bindings[].members'))).toEqual([{ etag: 'Bw1' }])
    expect(flattenRecords([policy], parseFlatten('etag'))).toEqual([policy])
    expect(flattenRecords([policy], parseFlatten('__proto__'))).toEqual([policy])
  })

  it('a key that is not one is a usage error that says which', () => {
    expect(() => parseFlatten('bindings[0].members')).toThrow("--flatten=bindings[0].members: 'bindings[0].members' is not a key such as bindings or bindings[].members.")
    expect(() => parseFlatten('')).toThrow(/is not a key/)
    expect(() => parseFlatten('bindings.members;rm')).toThrow(/is not a key/)
  })
})
