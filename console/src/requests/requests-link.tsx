import { usePendingRequestCount } from './access-requests.ts'
import './requests.css'

export const requestsPath = (project: string) => `/console/projects/${encodeURIComponent(project)}/requests`

/** The header's count of pending access requests the signed-in person may decide; nothing when there are none. */
export function PendingRequestCount() {
  const pending = usePendingRequestCount()
  if (!pending?.count) return null
  // Past the first MAX_COUNTED pending requests the count is a floor, and says so.
  const shown = `${pending.count}${pending.more ? '+' : ''}`
  return <span className="count-badge" aria-label={`${shown} pending`}>{shown}</span>
}
