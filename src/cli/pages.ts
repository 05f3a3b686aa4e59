/** One page of a list from an API that pages, as Google's do: its items and the next page's token. */
export interface Page<T> {
  items: readonly T[]
  nextPageToken?: string
}

/**
 * Up to `limit` items (Infinity: all), asked for at most `pageSize` at a time and never more than
 * are still wanted, following nextPageToken to the limit or the last page (gcloud's --limit and
 * --page-size on a list that pages).
 */
export async function collectPages<T>(fetchPage: (pageSize: number, pageToken?: string) => Promise<Page<T>>, o: { limit: number; pageSize: number }): Promise<T[]> {
  const items: T[] = []
  let token: string | undefined
  do {
    const page = await fetchPage(Math.min(o.pageSize, o.limit - items.length), token)
    items.push(...page.items.slice(0, o.limit - items.length))
    // A page without items ends it too, whatever its token says: no loop on a server's slip.
    token = page.items.length > 0 ? page.nextPageToken : undefined
  } while (token && items.length < o.limit)
  return items
}
