import { describe, expect, it } from 'vitest'
import { collectPages, type Page } from './pages.js'

/** A server's list of `total` items, paged as the audit-log API pages (at most `max` a page). */
function pagedList(total: number, max = 1000) {
  const asked: { pageSize: number; pageToken?: string }[] = []
  const fetchPage = async (pageSize: number, pageToken?: string): Promise<Page<number>> => {
    asked.push({ pageSize, ...(pageToken !== undefined && { pageToken }) })
    const from = pageToken === undefined ? 0 : Number(pageToken)
    const n = Math.min(pageSize, max)
    const items = Array.from({ length: Math.max(0, Math.min(n, total - from)) }, (_, i) => from + i)
    return { items, ...(items.length === n && { nextPageToken: String(from + n) }) }
  }
  return { asked, fetchPage }
}

describe('collectPages', () => {
  it('asks for pages of pageSize, the last one for no more than is still wanted', async () => {
    const { asked, fetchPage } = pagedList(10)
    expect(await collectPages(fetchPage, { limit: 5, pageSize: 2 })).toEqual([0, 1, 2, 3, 4])
    expect(asked).toEqual([{ pageSize: 2 }, { pageSize: 2, pageToken: '2' }, { pageSize: 1, pageToken: '4' }])
  })

  it('goes past a page the server caps, up to the limit or the last item', async () => {
    const { fetchPage } = pagedList(2500)
    expect(await collectPages(fetchPage, { limit: 2000, pageSize: 5000 })).toHaveLength(2000)
    expect(await collectPages(fetchPage, { limit: Infinity, pageSize: 1000 })).toHaveLength(2500)
  })

  it('with keep, counts only the items kept, asking for whole pages until the limit of them is reached', async () => {
    const { asked, fetchPage } = pagedList(100)
    expect(await collectPages(fetchPage, { limit: 3, pageSize: 4, keep: (n) => n % 5 === 0 })).toEqual([0, 5, 10])
    expect(asked.map((a) => a.pageSize)).toEqual([4, 4, 4])
  })

  it('stops at a page without items, whatever token it carries', async () => {
    let calls = 0
    const items = await collectPages(async () => (calls++, { items: [], nextPageToken: 'again' }), { limit: Infinity, pageSize: 10 })
    expect({ items, calls }).toEqual({ items: [], calls: 1 })
  })
})
