/** One page of a list from an API that pages, as Google's do: its items and the next page's token. */
export interface Page<T> {
  items: readonly T[]
  nextPageToken?: string
}

/**
 * Up to `limit` items (Infinity: all), asked for at most `pageSize` at a time and never more than
 * are still wanted, following nextPageToken to the limit or the last page (gcloud's --limit and
 * --page-size on a list that pages). With `keep` (a --filter), only the items it keeps are
 * counted and returned, and each page is a whole `pageSize`: how many will pass is not known.
 */
export async function collectPages<T>(fetchPage: (pageSize: number, pageToken?: string) => Promise<Page<T>>, o: { limit: number; pageSize: number; keep?: (item: T) => boolean }): Promise<T[]> {
  const items: T[] = []
  let token: string | undefined
  do {
    const page = await fetchPage(o.keep ? o.pageSize : Math.min(o.pageSize, o.limit - items.length), token)
    items.push(...(o.keep ? page.items.filter(o.keep) : page.items).slice(0, o.limit - items.length))
    // A page without items ends it too, whatever its token says: no loop on a server's slip.
    token = page.items.length > 0 ? page.nextPageToken : undefined
  } while (token && items.length < o.limit)
  return items
}
