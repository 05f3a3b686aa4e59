import { useEffect, useRef, useState } from 'react'
import { ApiError, paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Group, Policy } from '../api/types.ts'
import { ConfirmDialog, ErrorText } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'
import { AddPrincipalDialog } from './add-principal-dialog.tsx'
import { describeMember, groupByRole, revokeRole, StaleBindingError, underCondition, type PolicySource, type RoleGroup } from './policy-edit.ts'
import { updatePolicy } from './update-policy.ts'
import { useRoles } from './use-roles.ts'

interface Removal {
  group: RoleGroup
  member: string
}

/**
 * The Permissions tab of a service: who holds which role on it, including what the project and
 * the organization grant (shown as inherited: it is changed on that policy, not here).
 */
export function PermissionsTab({ project, service, onChanged }: { project: string; service: string; onChanged?: () => void }) {
  const { api } = useSession()
  const roles = useRoles()
  const resourcePath = paths.service(project, service)
  const allowed = usePermissions(resourcePath, ['run.services.setIamPolicy'])
  const canEdit = allowed.has('run.services.setIamPolicy')
  const [adding, setAdding] = useState(false)
  const [removal, setRemoval] = useState<Removal>()
  const [removeError, setRemoveError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const [status, setStatus] = useState('')
  // A removal refused because the grant changed since it was shown: said in the panel, beside the
  // refreshed policy, once the dialog (whose Remove button would only try the stale grant again) is closed.
  const [stale, setStale] = useState<string>()
  const staleRef = useRef<HTMLParagraphElement>(null)
  useEffect(() => {
    if (stale) staleRef.current?.focus()
  }, [stale])
  const statusRef = useRef<HTMLParagraphElement>(null)
  // After a removal the Remove button goes with its row: focus goes to the status that says what
  // happened (once it is shown: an empty status is not displayed, and cannot take focus).
  const focusStatus = useRef(false)
  useEffect(() => {
    if (!focusStatus.current) return
    focusStatus.current = false
    statusRef.current?.focus()
  }, [status])

  const loaded = useLoad(async () => {
    const optional = async <T,>(read: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await read()
      } catch (err) {
        if (err instanceof ApiError && (err.status === 'PERMISSION_DENIED' || err.status === 'NOT_FOUND')) return undefined
        throw err
      }
    }
    // Each refused read is filed in the audit log as a denial, so the optional ones are tried only
    // when testIamPermissions (never audited) says they will be allowed: an admin of this service
    // alone who only opens it must not show up under Denied.
    const held = async (resource: string, permissions: string[]) =>
      new Set((await api.post<{ permissions?: string[] }>(`${resource}:testIamPermissions`, { permissions })).permissions ?? [])
    const [own, onProject, onOrganization] = await Promise.all([
      api.post<Policy>(`${resourcePath}:getIamPolicy`, {}),
      optional(() => held(paths.project(project), ['resourcemanager.projects.getIamPolicy'])),
      optional(() => held(paths.organization(), ['resourcemanager.organizations.getIamPolicy', 'postern.groups.list'])),
    ])
    const [projectPolicy, orgPolicy, groups] = await Promise.all([
      onProject?.has('resourcemanager.projects.getIamPolicy') ? optional(() => api.post<Policy>(`${paths.project(project)}:getIamPolicy`, {})) : undefined,
      onOrganization?.has('resourcemanager.organizations.getIamPolicy') ? optional(() => api.post<Policy>(`${paths.organization()}:getIamPolicy`, {})) : undefined,
      onOrganization?.has('postern.groups.list') ? optional(async () => (await api.get<{ groups: Group[] }>(paths.groups())).groups) : undefined,
    ])
    const sources: PolicySource[] = [{ kind: 'service', label: `service ${service}`, policy: own }]
    if (projectPolicy) sources.push({ kind: 'project', label: `project ${project}`, policy: projectPolicy })
    if (orgPolicy) sources.push({ kind: 'organization', label: 'the organization', policy: orgPolicy })
    return { sources, hiddenAncestors: !projectPolicy || !orgPolicy, groups: new Map((groups ?? []).map((g) => [g.email, g])) }
  }, resourcePath)

  const confirmRemoval = async () => {
    if (!removal) return
    setBusy(true)
    setRemoveError(undefined)
    setStale(undefined)
    setStatus('')
    try {
      // Whether the last attempt of the read-modify-write removed anything: someone else may have
      // removed the member already, and then nothing is written.
      let removed = false
      await updatePolicy(api, resourcePath, (p) => {
        const next = revokeRole(p, removal.group.role, removal.group.condition, removal.member)
        removed = next !== p
        return next
      })
      // A conditional grant is named by its condition: the same role may be held without one too.
      const grant = `${removal.group.title}${removal.group.condition ? ` ${underCondition(removal.group.condition)}` : ''}`
      setStatus(removed ? `Removed ${removal.member} from ${grant}.` : `${removal.member} no longer held ${grant}; nothing needed removing.`)
      setRemoval(undefined)
      loaded.reload()
      onChanged?.()
      focusStatus.current = true
    } catch (err) {
      if (err instanceof StaleBindingError) {
        setRemoval(undefined)
        setStale(err.message)
        loaded.reload()
        onChanged?.()
      } else setRemoveError(describeError(err, `change who has access to ${service}`))
    } finally {
      setBusy(false)
    }
  }

  const data = loaded.data
  const groups = data ? groupByRole(data.sources, roles) : []

  return (
    <div className="permissions">
      <div className="panel-toolbar">
        {canEdit && (
          <button type="button" className="button button-primary" onClick={() => { setStale(undefined); setAdding(true) }}>
            Add principal
          </button>
        )}
        <button type="button" className="button button-quiet" onClick={loaded.reload} aria-label={`Refresh permissions of ${service}`}>
          Refresh
        </button>
      </div>
      <p className="status-text" role="status" tabIndex={-1} ref={statusRef}>{status}</p>
      {stale && <p className="error-text" role="alert" tabIndex={-1} ref={staleRef}>{stale}</p>}
      {loaded.error !== undefined && <ErrorText message={describeError(loaded.error, `view who has access to ${service}`)} />}
      {loaded.loading && !data && <p className="muted">Loading permissions…</p>}
      {data && !canEdit && <p className="note">You can view these permissions but not change them.</p>}
      {data && groups.length === 0 && <p className="muted">No one has a role on this service yet.</p>}
      {groups.map((g) => (
        <section key={`${g.role}\n${g.conditionKey}`} className="role-group" aria-label={`${g.title}${conditionLabel(g.condition)}`}>
          <h3 className="role-title">
            {g.title} <span className="role-name">{g.role}</span>
          </h3>
          {g.condition && (
            <p className="condition">
              Only while: <strong><bdi>{g.condition.title ?? 'condition'}</bdi></strong> <code><bdi>{g.condition.expression}</bdi></code>
              {g.condition.description && <span className="condition-description"> — <bdi>{g.condition.description}</bdi></span>}
            </p>
          )}
          <ul className="member-list">
            {g.entries.map((e) => {
              const { kind, id } = describeMember(e.member)
              const group = kind === 'Group' ? data?.groups.get(id.toLowerCase()) : undefined
              return (
                <li key={`${e.member}\n${e.inheritedFrom ?? ''}`} className="member">
                  <span className={`badge badge-${kind.toLowerCase().replace(/[^a-z]+/g, '-')}`}>{kind}</span>
                  <span className="member-text">
                    <bdi className="member-id">{id}</bdi>
                    {group?.displayName && <bdi className="member-name">{group.displayName}</bdi>}
                    {e.inheritedFrom && <span className="inherited">Inherited from {e.inheritedFrom}</span>}
                  </span>
                  {canEdit && !e.inheritedFrom && (
                    <button
                      type="button"
                      className="button button-quiet button-small"
                      aria-label={`Remove ${e.member} from ${g.title}${conditionLabel(g.condition)}`}
                      onClick={() => {
                        setRemoveError(undefined)
                        setRemoval({ group: g, member: e.member })
                      }}
                    >
                      Remove
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        </section>
      ))}
      {data?.hiddenAncestors && (
        <p className="muted small">Roles granted on the project or the organization also apply to this service; you can't view all of those policies, so some may not be listed.</p>
      )}
      {adding && (
        <AddPrincipalDialog
          resourcePath={resourcePath}
          resourceLabel={service}
          roles={roles.filter((r) => r.grantableOn?.includes('run.postern/Service') ?? true)}
          onClose={() => setAdding(false)}
          onSaved={(message) => {
            setAdding(false)
            setStatus(message)
            loaded.reload()
            onChanged?.()
          }}
        />
      )}
      {removal && (
        <ConfirmDialog
          title="Remove principal?"
          confirmLabel="Remove"
          busy={busy}
          error={removeError}
          onConfirm={() => void confirmRemoval()}
          onClose={() => setRemoval(undefined)}
        >
          <p>
            <strong>{removal.member}</strong> will lose the <strong>{removal.group.title}</strong> role on service <strong>{service}</strong>
            {removal.group.condition ? ` ${underCondition(removal.group.condition)}` : ''}. Access they have through other roles or groups stays.
          </p>
        </ConfirmDialog>
      )}
    </div>
  )
}

/** What tells a conditional grant apart from the same role's others, in names a screen reader reads. */
function conditionLabel(condition: RoleGroup['condition']): string {
  if (!condition) return ''
  const description = condition.description ? `, ${condition.description}` : ''
  return ` (if ${condition.title ?? condition.expression}${description})`
}
