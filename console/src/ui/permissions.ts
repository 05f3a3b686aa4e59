import { useSession } from './session.tsx'
import { useLoad } from './use-load.ts'

/**
 * Which of `permissions` the signed-in user holds on a resource (testIamPermissions). Controls
 * that need a permission are left out until the answer says it is held, so a viewer never sees
 * a button that can only fail.
 */
export function usePermissions(resourcePath: string | undefined, permissions: string[]): ReadonlySet<string> {
  return usePermissionState(resourcePath, permissions).allowed
}

/** The same, and whether the answer is in: a hint about what is missing waits for it. */
export function usePermissionState(resourcePath: string | undefined, permissions: string[]): { allowed: ReadonlySet<string>; known: boolean } {
  const { api } = useSession()
  const { data } = useLoad(
    async () => {
      if (!resourcePath) return new Set<string>()
      try {
        const r = await api.post<{ permissions?: string[] }>(`${resourcePath}:testIamPermissions`, { permissions })
        return new Set(r.permissions ?? [])
      } catch {
        return new Set<string>()
      }
    },
    `${resourcePath}\n${permissions.join(',')}`,
  )
  return { allowed: data ?? EMPTY, known: data !== undefined }
}

const EMPTY: ReadonlySet<string> = new Set()
