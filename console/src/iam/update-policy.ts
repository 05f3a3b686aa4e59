import { ApiError, type Api } from '../api/client.ts'
import type { Policy } from '../api/types.ts'
import { samePolicy } from './policy-edit.ts'

const ATTEMPTS = 6

/**
 * Read-modify-write of one resource's IAM policy (DESIGN §1): read it with its etag, apply the
 * edit, write it back with that etag; when another writer got there first (409 ABORTED), read
 * again and re-apply the edit, with exponential backoff and jitter. An edit that changes nothing
 * writes nothing.
 */
export async function updatePolicy(
  api: Api,
  resourcePath: string,
  edit: (current: Policy) => Policy,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<Policy> {
  for (let attempt = 1; ; attempt++) {
    const current = await api.post<Policy>(`${resourcePath}:getIamPolicy`, {})
    const next = edit(current)
    if (samePolicy(current, next)) return current
    const conditional = (next.bindings ?? []).some((b) => b.condition)
    const policy: Policy = { ...next, version: conditional ? 3 : (current.version ?? 1), etag: current.etag }
    try {
      return await api.post<Policy>(`${resourcePath}:setIamPolicy`, { policy })
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 'ABORTED') || attempt >= ATTEMPTS) throw err
      await sleep(Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random()))
    }
  }
}
