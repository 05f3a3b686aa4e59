import type { Api } from '../api/client.ts'
import type { Policy } from '../api/types.ts'
import { getIamPolicy, setIamPolicy } from '../../../src/api/paths.js'
import { readModifyWrite } from '../../../src/api/read-modify-write.js'

/**
 * Read-modify-write of one resource's IAM policy (DESIGN §1) from the console: the loop (etag,
 * retry with backoff on ABORTED, nothing written when nothing changes) is the one the CLI uses.
 */
export function updatePolicy(api: Api, resourcePath: string, edit: (current: Policy) => Policy): Promise<Policy> {
  return readModifyWrite({ read: () => api.post<Policy>(getIamPolicy(resourcePath), {}), write: (policy) => api.post<Policy>(setIamPolicy(resourcePath), { policy }) }, edit)
}
