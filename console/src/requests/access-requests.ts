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
  list: (state?: string) => `/v1/accessRequests${state ? `?state=${encodeURIComponent(state)}` : ''}`,
  approve: (id: string) => `/v1/accessRequests/${encodeURIComponent(id)}:approve`,
  deny: (id: string) => `/v1/accessRequests/${encodeURIComponent(id)}:deny`,
}

export async function listAccessRequests(api: Api, state?: string): Promise<AccessRequest[]> {
  return (await api.get<{ accessRequests?: AccessRequest[] }>(accessRequestPaths.list(state))).accessRequests ?? []
}

/** Said on the window whenever this tab approves or denies, so the header's count follows at once. */
export const REQUESTS_CHANGED = 'postern:access-requests-changed'

/** Pending requests the signed-in person may decide: the count in the header, refreshed every 30 s and after each decision here. */
export function usePendingRequestCount(): number | undefined {
  const { api } = useSession()
  const [count, setCount] = useState<number>()
  useEffect(() => {
    let live = true
    const load = () => {
      listAccessRequests(api, 'PENDING').then(
        (rows) => live && setCount(rows.filter((r) => r.canDecide).length),
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
