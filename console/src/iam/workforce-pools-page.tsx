import { useId, useState } from 'react'
import { paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { WorkforcePool, WorkforceProvider } from '../api/types.ts'
import { ErrorText, Modal, SubmitActions } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

/**
 * Workforce pools and their OIDC providers: people from an external identity provider.
 * Pools belong to the installation (organizations/local), not to a project.
 */
const POOL_ID = /^[a-z][a-z0-9-]{4,61}[a-z0-9]$/
const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{2,30}[a-z0-9]$/
const poolId = (p: WorkforcePool) => p.name.split('/')[1]!
const providerId = (p: WorkforceProvider) => p.name.split('/')[3]!

export function WorkforcePoolsPage() {
  const { api } = useSession()
  const allowed = usePermissions(paths.organization(), ['iam.workforcePools.create', 'iam.workforcePools.update'])
  const list = useLoad(async () => {
    const pools = (await api.get<{ workforcePools?: WorkforcePool[] }>(paths.workforcePools())).workforcePools ?? []
    const providers = await Promise.all(pools.map(async (p) => (await api.get<{ workforcePoolProviders?: WorkforceProvider[] }>(paths.workforceProviders(poolId(p)))).workforcePoolProviders ?? []))
    return pools.map((pool, i) => ({ pool, providers: providers[i]! }))
  }, 'pools')
  const [creatingPool, setCreatingPool] = useState(false)
  const [addingTo, setAddingTo] = useState<string>()
  const [status, setStatus] = useState('')
  const [error, setError] = useState<string>()

  const toggle = async (path: string, what: string, disabled: boolean) => {
    setError(undefined)
    try {
      await api.patch(path, { disabled })
      setStatus(`${disabled ? 'Disabled' : 'Enabled'} ${what}.${disabled ? ' Its people’s tokens stop within a second.' : ''}`)
      list.reload()
    } catch (err) {
      setError(describeError(err, `${disabled ? 'disable' : 'enable'} ${what}`))
    }
  }

  return (
    <div className="page-main">
      <header className="page-header">
        <h1>Workforce pools</h1>
        <div className="toolbar">
          {allowed.has('iam.workforcePools.create') && <button type="button" className="button button-primary" onClick={() => setCreatingPool(true)}>Create pool</button>}
        </div>
      </header>
      <p className="intro">People from an external identity provider (Okta, Entra ID, Keycloak, Google…) sign in through a pool’s provider, without a Postern account. Grant them access with <span className="mono">principalSet://iam.postern/workforcePools/POOL/group/GROUP</span> or <span className="mono">principal://…/subject/SUBJECT</span>.</p>
      <p className="status-text" role="status">{status}</p>
      <ErrorText message={error} />
      {list.error !== undefined && <ErrorText message={describeError(list.error, 'list workforce pools')} />}
      {list.data && list.data.length === 0 && <p className="empty">No workforce pools yet.</p>}
      {(list.data ?? []).map(({ pool, providers }) => (
        <section key={pool.name} className="pool" aria-label={`Pool ${poolId(pool)}`}>
          <h2 className="mono">{poolId(pool)}</h2>
          <p>
            {pool.displayName || 'No display name'} · session {Number(pool.sessionDuration.replace('s', '')) / 3600} h · {pool.disabled ? 'Disabled' : 'Enabled'}{' '}
            {allowed.has('iam.workforcePools.update') && (
              <button type="button" className="button button-small" onClick={() => void toggle(paths.workforcePool(poolId(pool)), `pool ${poolId(pool)}`, !pool.disabled)}>{pool.disabled ? 'Enable pool' : 'Disable pool'}</button>
            )}{' '}
            {allowed.has('iam.workforcePools.update') && <button type="button" className="button button-small" onClick={() => setAddingTo(poolId(pool))}>Add provider</button>}
          </p>
          <table className="table table-stack">
            <caption className="visually-hidden">Providers of pool {poolId(pool)}</caption>
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Issuer</th>
                <th scope="col">Client ID</th>
                <th scope="col">Console sign-in</th>
                <th scope="col">Status</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {providers.map((p) => (
                <tr key={p.name}>
                  <th scope="row" className="mono">{providerId(p)}{p.displayName ? ` (${p.displayName})` : ''}</th>
                  <td className="mono" data-label="Issuer">{p.oidc.issuerUri}</td>
                  <td className="mono" data-label="Client ID">{p.oidc.clientId}</td>
                  <td data-label="Console sign-in">{p.consoleSignIn ? 'Offered' : '—'}</td>
                  <td data-label="Status">{p.disabled ? 'Disabled' : 'Enabled'}</td>
                  <td className="actions">
                    {allowed.has('iam.workforcePools.update') && (
                      <button type="button" className="button button-small button-quiet" onClick={() => void toggle(paths.workforceProvider(poolId(pool), providerId(p)), `provider ${providerId(p)}`, !p.disabled)}>{p.disabled ? 'Enable' : 'Disable'}</button>
                    )}
                  </td>
                </tr>
              ))}
              {providers.length === 0 && <tr><td colSpan={6} className="empty">No providers in this pool.</td></tr>}
            </tbody>
          </table>
        </section>
      ))}
      {creatingPool && <CreatePoolDialog onClose={() => setCreatingPool(false)} onCreated={(id) => { setCreatingPool(false); setStatus(`Created pool ${id}.`); list.reload() }} />}
      {addingTo && <AddProviderDialog pool={addingTo} onClose={() => setAddingTo(undefined)} onCreated={(id) => { setAddingTo(undefined); setStatus(`Added provider ${id}.`); list.reload() }} />}
    </div>
  )
}

function CreatePoolDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (id: string) => void }) {
  const { api } = useSession()
  const [id, setId] = useState('')
  const [displayName, setDisplayName] = useState('')
  const [hours, setHours] = useState('1')
  const [idError, setIdError] = useState<string>()
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { id: useId(), idError: useId(), name: useId(), hours: useId() }
  const create = async () => {
    setFormError(undefined)
    if (!POOL_ID.test(id)) return setIdError('Use 6–63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.')
    setIdError(undefined)
    setBusy(true)
    try {
      await api.post(`${paths.workforcePools()}?workforcePoolId=${encodeURIComponent(id)}`, { ...(displayName && { displayName }), sessionDuration: `${Math.round(Number(hours) * 3600)}s` })
      onCreated(id)
    } catch (err) {
      setFormError(describeError(err, 'create workforce pools'))
      setBusy(false)
    }
  }
  return (
    <Modal title="Create workforce pool" onClose={onClose} onSubmit={() => void create()} footer={<SubmitActions label="Create" busyLabel="Creating…" busy={busy} onCancel={onClose} />}>
      <div className="field">
        <label htmlFor={ids.id}>Pool ID</label>
        <input id={ids.id} value={id} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setId(e.target.value)} aria-invalid={idError ? true : undefined} aria-describedby={idError ? ids.idError : undefined} />
        <ErrorText id={ids.idError} message={idError} />
      </div>
      <div className="field">
        <label htmlFor={ids.name}>Display name</label>
        <input id={ids.name} value={displayName} maxLength={100} onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={ids.hours}>Session duration</label>
        <select id={ids.hours} value={hours} onChange={(e) => setHours(e.target.value)}>
          {['0.25', '0.5', '1', '2', '4', '8', '12'].map((h) => <option key={h} value={h}>{Number(h) < 1 ? `${Number(h) * 60} minutes` : `${h} hour${h === '1' ? '' : 's'}`}</option>)}
        </select>
      </div>
      <ErrorText message={formError} />
    </Modal>
  )
}

function AddProviderDialog({ pool, onClose, onCreated }: { pool: string; onClose: () => void; onCreated: (id: string) => void }) {
  const { api } = useSession()
  const [id, setId] = useState('')
  const [displayName, setDisplayName] = useState('')
  const [issuerUri, setIssuerUri] = useState('')
  const [clientId, setClientId] = useState('')
  const [mapping, setMapping] = useState('postern.subject=assertion.sub\npostern.groups=has(assertion.groups) ? assertion.groups : []')
  const [condition, setCondition] = useState('')
  const [consoleSignIn, setConsoleSignIn] = useState(true)
  const [formError, setFormError] = useState<string>()
  const [busy, setBusy] = useState(false)
  const ids = { id: useId(), name: useId(), issuer: useId(), client: useId(), mapping: useId(), mappingHelp: useId(), condition: useId(), console: useId() }
  const create = async () => {
    setFormError(undefined)
    if (!PROVIDER_ID.test(id)) return setFormError('Provider ID: 4–32 lowercase letters, digits and hyphens, not starting or ending with a hyphen.')
    const attributeMapping: Record<string, string> = {}
    for (const line of mapping.split('\n').map((l) => l.trim()).filter(Boolean)) {
      const eq = line.indexOf('=')
      if (eq < 0) return setFormError(`Attribute mapping: '${line}' is not TARGET=EXPRESSION.`)
      attributeMapping[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
    }
    setBusy(true)
    try {
      await api.post(`${paths.workforceProviders(pool)}?workforcePoolProviderId=${encodeURIComponent(id)}`, {
        ...(displayName && { displayName }),
        oidc: { issuerUri, clientId },
        attributeMapping,
        ...(condition && { attributeCondition: condition }),
        consoleSignIn,
      })
      onCreated(id)
    } catch (err) {
      setFormError(describeError(err, `add providers to pool ${pool}`))
      setBusy(false)
    }
  }
  return (
    <Modal wide title={`Add an OIDC provider to ${pool}`} onClose={onClose} onSubmit={() => void create()} footer={<SubmitActions label="Add" busyLabel="Adding…" busy={busy} onCancel={onClose} />}>
      <div className="field"><label htmlFor={ids.id}>Provider ID</label><input id={ids.id} value={id} autoFocus autoComplete="off" spellCheck={false} onChange={(e) => setId(e.target.value)} /></div>
      <div className="field"><label htmlFor={ids.name}>Display name</label><input id={ids.name} value={displayName} maxLength={100} onChange={(e) => setDisplayName(e.target.value)} /></div>
      <div className="field"><label htmlFor={ids.issuer}>Issuer URI</label><input id={ids.issuer} value={issuerUri} spellCheck={false} onChange={(e) => setIssuerUri(e.target.value)} /></div>
      <div className="field"><label htmlFor={ids.client}>Client ID</label><input id={ids.client} value={clientId} spellCheck={false} onChange={(e) => setClientId(e.target.value)} /></div>
      <div className="field">
        <label htmlFor={ids.mapping}>Attribute mapping</label>
        <textarea id={ids.mapping} rows={4} value={mapping} spellCheck={false} onChange={(e) => setMapping(e.target.value)} aria-describedby={ids.mappingHelp} />
        <p className="help" id={ids.mappingHelp}>One TARGET=CEL per line: postern.subject (required), postern.groups, postern.display_name, attribute.NAME; over assertion.*</p>
      </div>
      <div className="field"><label htmlFor={ids.condition}>Attribute condition (optional)</label><input id={ids.condition} value={condition} spellCheck={false} onChange={(e) => setCondition(e.target.value)} /></div>
      <div className="field"><label><input id={ids.console} type="checkbox" checked={consoleSignIn} onChange={(e) => setConsoleSignIn(e.target.checked)} /> Offer on the sign-in page</label></div>
      <ErrorText message={formError} />
    </Modal>
  )
}
