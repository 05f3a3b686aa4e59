import { useId, useState } from 'react'
import { ApiError } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { Role } from '../api/types.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { useSession } from '../ui/session.tsx'
import { grantMessage, grantRole, parsePrincipals, storedMember } from './policy-edit.ts'
import { publicMembers, PublicGrantWarning } from './public-grant.tsx'
import { updatePolicy } from './update-policy.ts'

/**
 * "Add principal": one or more principals and one role, saved as a read-modify-write of the
 * resource's policy. Each problem is shown beside the field it concerns.
 */
export function AddPrincipalDialog({ resourcePath, resourceLabel, roles, onClose, onSaved }: {
  resourcePath: string
  resourceLabel: string
  roles: Role[]
  onClose: () => void
  onSaved: (message: string) => void
}) {
  const { api } = useSession()
  const [text, setText] = useState('')
  const [role, setRole] = useState('')
  const [principalsError, setPrincipalsError] = useState<string>()
  const [roleError, setRoleError] = useState<string>()
  const [saveError, setSaveError] = useState<string>()
  const [busy, setBusy] = useState(false)
  // A grant to allUsers or allAuthenticatedUsers is saved only after a second, explicit yes.
  const [confirmingPublic, setConfirmingPublic] = useState<string[]>()
  const ids = { principals: useId(), principalsHelp: useId(), principalsError: useId(), role: useId(), roleHelp: useId(), roleError: useId() }
  const chosen = roles.find((r) => r.name === role)

  const save = async () => {
    const { members, problems } = parsePrincipals(text)
    const principalProblem = problems.length ? problems.join(' ') : members.length === 0 ? 'Enter at least one principal, for example ann@example.com.' : undefined
    setPrincipalsError(principalProblem)
    setRoleError(role ? undefined : 'Select a role to grant.')
    setSaveError(undefined)
    if (principalProblem || !role) return
    const open = publicMembers(members)
    if (open.length && !confirmingPublic) {
      setConfirmingPublic(open)
      return
    }
    setBusy(true)
    try {
      // Who already held the role (unconditionally) in the policy the last attempt edited: for
      // them nothing was written, and the message must not say they were granted it.
      let held: string[] = []
      let granted: string[] = []
      const saved = await updatePolicy(api, resourcePath, (p) => {
        granted = members.filter((m) => grantRole(p, role, [m]) !== p)
        held = members.filter((m) => !granted.includes(m)).map((m) => storedMember(p, role, m))
        return grantRole(p, role, members)
      })
      onSaved(grantMessage(chosen?.title ?? role, resourceLabel, granted.map((m) => storedMember(saved, role, m)), held))
    } catch (err) {
      // The role comes from a fixed list, so a refused argument is one of the principals, which
      // the API names: shown at that field.
      if (err instanceof ApiError && err.status === 'INVALID_ARGUMENT') setPrincipalsError(`Postern did not accept these principals. ${err.message}`)
      else setSaveError(describeError(err, `change who has access to ${resourceLabel}`))
      setConfirmingPublic(undefined)
      setBusy(false)
    }
  }

  if (confirmingPublic) {
    // Cancel goes back to the form, nothing saved; what was typed stays.
    return (
      <Modal
        title="Allow public access?"
        onClose={() => setConfirmingPublic(undefined)}
        onSubmit={() => void save()}
        footer={
          <>
            <button type="button" className="button" autoFocus onClick={() => setConfirmingPublic(undefined)}>Cancel</button>
            <button type="submit" className="button button-danger" disabled={busy}>{busy ? 'Saving…' : 'Allow public access'}</button>
          </>
        }
      >
        <PublicGrantWarning members={confirmingPublic} role={chosen} resourceLabel={resourceLabel} />
        <ErrorText message={saveError} />
      </Modal>
    )
  }

  return (
    <Modal
      title={`Grant access to “${resourceLabel}”`}
      onClose={onClose}
      onSubmit={() => void save()}
      footer={<SubmitActions label="Save" busyLabel="Saving…" busy={busy} onCancel={onClose} />}
    >
      <div className="field">
        <label htmlFor={ids.principals}>New principals</label>
        <textarea
          id={ids.principals}
          rows={3}
          value={text}
          autoFocus
          spellCheck={false}
          autoCapitalize="off"
          onChange={(e) => {
            setText(e.target.value)
            setPrincipalsError(undefined)
          }}
          aria-invalid={principalsError ? true : undefined}
          aria-describedby={`${ids.principalsHelp}${principalsError ? ` ${ids.principalsError}` : ''}`}
        />
        <p className="help" id={ids.principalsHelp}>
          Emails or members, separated by commas or new lines. An email on its own means a user; write group:, serviceAccount: or domain: before others.
        </p>
        <ErrorText id={ids.principalsError} message={principalsError} />
      </div>
      <div className="field">
        <label htmlFor={ids.role}>Select a role</label>
        <select
          id={ids.role}
          value={role}
          onChange={(e) => {
            setRole(e.target.value)
            setRoleError(undefined)
          }}
          aria-invalid={roleError ? true : undefined}
          aria-describedby={`${ids.roleHelp}${roleError ? ` ${ids.roleError}` : ''}`}
        >
          <option value="" disabled>Select a role…</option>
          {roles.map((r) => (
            <option key={r.name} value={r.name}>{r.title}</option>
          ))}
        </select>
        <p className="help" id={ids.roleHelp}>{chosen ? `${chosen.description} (${chosen.name})` : 'Run Invoker lets a principal call the service.'}</p>
        <ErrorText id={ids.roleError} message={roleError} />
      </div>
      <ErrorText message={saveError} />
    </Modal>
  )
}
