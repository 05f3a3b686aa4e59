import { paths } from '../api/client.ts'
import type { Role } from '../api/types.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

/** The role catalogue with titles (GET /v1/roles), readable by anyone signed in. */
export function useRoles(): Role[] {
  const { api } = useSession()
  return useLoad(async () => (await api.get<{ roles: Role[] }>(paths.roles())).roles, 'roles').data ?? []
}
