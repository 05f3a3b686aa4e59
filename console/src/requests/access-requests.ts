import { useEffect, useState } from 'react'
import type { Api } from '../api/client.ts'
import { useSession } from '../ui/session.tsx'

/** An access request as GET /v1/accessRequests returns it (DESIGN §9). */
export interface AccessRequest {
  id: string
  resource: string
  project: string
  service: string
  requester: string
  role: string
  reason: string
  requestedDuration: string
  state: 'PENDING' | 'APPROVED' | 'DENIED' | 'EXPIRED'
  createTime: string
  decider?: string
  decideTime?: string
  denialReason?: string
  grantedDuration?: string
  expireTime?: string
  canDecide: boolean
}

export const accessRequestPaths = {
  list: (o: { state?: string; pageSize: number; pageToken?: string }) =>
    `/v1/accessRequests?${new URLSearchParams({ pageSize: String(o.pageSize), ...(o.state && { state: o.state }), ...(o.pageToken && { pageToken: o.pageToken }) })}`,
  approve: (id: string) => `/v1/accessRequests/${encodeURIComponent(id)}:approve`,
  deny: (id: string) => `/v1/accessRequests/${encodeURIComponent(id)}:deny`,
}

/** The API answers at most this many a page. */
const MAX_PAGE_SIZE = 500

export interface AccessRequestPages {
  requests: AccessRequest[]
  /** Where the rest starts when the list was cut short: it says there are more, never hides them. */
  nextPageToken?: string
}

/** Up to `max` requests, newest first, following nextPageToken; `nextPageToken` is set when more remain. */
export async function listAccessRequests(api: Api, o: { state?: string; max: number }): Promise<AccessRequestPages> {
  const requests: AccessRequest[] = []
  let pageToken: string | undefined
  do {
    const pageSize = Math.min(MAX_PAGE_SIZE, o.max - requests.length)
    const page = await api.get<{ accessRequests?: AccessRequest[]; nextPageToken?: string }>(accessRequestPaths.list({ state: o.state, pageSize, pageToken }))
    requests.push(...(page.accessRequests ?? []))
    // A page without items ends it too, whatever its token says.
    pageToken = page.accessRequests?.length ? page.nextPageToken : undefined
  } while (pageToken && requests.length < o.max)
  return { requests, ...(pageToken && { nextPageToken: pageToken }) }
}

/** The header counts at most this many pending requests, then says "+". */
const MAX_COUNTED = 1000

/** Said on the window whenever this tab approves or denies, so the header's count follows at once. */
export const REQUESTS_CHANGED = 'postern:access-requests-changed'

/** Pending requests the signed-in person may decide: the count in the header, refreshed every 30 s and after each decision here. */
export function usePendingRequestCount(): { count: number; more: boolean } | undefined {
  const { api } = useSession()
  const [count, setCount] = useState<{ count: number; more: boolean }>()
  useEffect(() => {
    let live = true
    const load = () => {
      listAccessRequests(api, { state: 'PENDING', max: MAX_COUNTED }).then(
        (pages) => live && setCount({ count: pages.requests.filter((r) => r.canDecide).length, more: pages.nextPageToken !== undefined }),
        () => live && setCount(undefined),
      )
    }
    load()
    const timer = window.setInterval(load, 30_000)
    window.addEventListener(REQUESTS_CHANGED, load)
    return () => {
      live = false
      window.clearInterval(timer)
      window.removeEventListener(REQUESTS_CHANGED, load)
    }
  }, [api])
  return count
}

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** "2h", "90m", "3600" → seconds, as the CLI reads --for; undefined when it does not parse. */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d{1,7})\s*([smhd]?)\s*$/.exec(text)
  if (!m) return undefined
  const seconds = Number(m[1]) * UNIT[m[2] || 's']!
  return seconds > 0 ? seconds : undefined
}

/** "7200s" → "2h", "5400s" → "1h 30m". */
export function readableDuration(wire: string | undefined): string {
  let rest = Number((wire ?? '').replace(/s$/, ''))
  if (!Number.isFinite(rest) || rest <= 0) return ''
  const parts: string[] = []
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.join(' ')
}

/** A duration as the Duration field shows it: in the largest whole unit ("7200s" → "2h"). */
export function editableDuration(wire: string): string {
  const seconds = Number(wire.replace(/s$/, ''))
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
