import { usePendingRequestCount } from './access-requests.ts'
import './requests.css'

export const requestsPath = (project: string) => `/console/projects/${encodeURIComponent(project)}/requests`

/** The header's count of pending access requests the signed-in person may decide; nothing when there are none. */
export function PendingRequestCount() {
  const count = usePendingRequestCount()
  if (!count) return null
  return <span className="count-badge" aria-label={`${count} pending`}>{count}</span>
}
