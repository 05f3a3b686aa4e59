import { describe, expect, it } from 'vitest'
import { pagesWanted } from './list-flags.js'

describe('pagesWanted', () => {
  it('fetches --limit items, --page-size a request, never more a request than the API answers', () => {
    expect(pagesWanted({}, 500)).toEqual({ limit: Infinity, pageSize: 500 })
    expect(pagesWanted({ limit: '5', pageSize: '2' }, 500)).toEqual({ limit: 5, pageSize: 2 })
    expect(pagesWanted({ limit: 'unlimited', pageSize: '9000' }, 500)).toEqual({ limit: Infinity, pageSize: 500 })
  })

  it('fetches the whole list when --sort-by must see it before --limit cuts it; with --filter alone, until --limit items pass it', () => {
    expect(pagesWanted({ limit: '5', sortBy: 'createTime', filter: 'state=DENIED' }, 500).limit).toBe(Infinity)
    const filtered = pagesWanted({ limit: '5', filter: 'state=DENIED' }, 500)
    expect(filtered.limit).toBe(5)
    expect([{ state: 'DENIED' }, { state: 'PENDING' }].filter(filtered.keep!)).toEqual([{ state: 'DENIED' }])
    expect(pagesWanted({ limit: '5' }, 500).keep).toBeUndefined()
    expect(() => pagesWanted({ filter: 'state=(' }, 500)).toThrow()
  })

  it('refuses counts that are not positive whole numbers', () => {
    for (const bad of ['0', '-1', '1.5', 'lots']) expect(() => pagesWanted({ pageSize: bad }, 500)).toThrow('--page-size must be a positive number')
  })
})
