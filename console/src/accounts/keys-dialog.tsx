import { useEffect, useState } from 'react'
import { paths } from '../api/client.ts'
import { describeError } from '../api/describe-error.ts'
import type { CreatedKey, ServiceAccount, ServiceAccountKey } from '../api/types.ts'
import { formatTime } from '../services/service-details.tsx'
import { ErrorText, Modal } from '../ui/modal.tsx'
import { usePermissions } from '../ui/permissions.ts'
import { useSession } from '../ui/session.tsx'
import { useLoad } from '../ui/use-load.ts'

/**
 * A service account's keys. A new key's file exists only in the answer to its creation
 * (DESIGN §3), so it is offered as a download right there and never stored by the console.
 */
export function KeysDialog({ project, account, onClose }: { project: string; account: ServiceAccount; onClose: () => void }) {
  const { api } = useSession()
  const base = `${paths.serviceAccount(project, account.email)}/keys`
  const keys = useLoad(async () => (await api.get<{ keys?: ServiceAccountKey[] }>(base)).keys ?? [], base)
  const allowed = usePermissions(paths.serviceAccount(project, account.email), ['iam.serviceAccountKeys.create', 'iam.serviceAccountKeys.delete'])
  const [download, setDownload] = useState<{ url: string; fileName: string; keyId: string }>()
  const [confirming, setConfirming] = useState<string>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState(false)

  useEffect(() => () => {
    if (download) URL.revokeObjectURL(download.url)
  }, [download])

  const create = async () => {
    setBusy(true)
    setError(undefined)
    try {
      const key = await api.post<CreatedKey>(base, {})
      const text = new TextDecoder().decode(Uint8Array.from(atob(key.privateKeyData), (c) => c.charCodeAt(0)))
      const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
      setDownload({ url, fileName: `${account.email.split('@')[0]}-${key.keyId.slice(0, 12)}.json`, keyId: key.keyId })
      keys.reload()
    } catch (err) {
      setError(describeError(err, `create keys for ${account.email}`))
    } finally {
      setBusy(false)
    }
  }

  const remove = async (keyId: string) => {
    setBusy(true)
    setError(undefined)
    try {
      await api.delete(`${base}/${encodeURIComponent(keyId)}`)
      setConfirming(undefined)
      keys.reload()
    } catch (err) {
      setError(describeError(err, `delete keys of ${account.email}`))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Modal title={`Keys of ${account.email}`} wide onClose={onClose} footer={<button type="button" className="button" onClick={onClose}>Close</button>}>
      <p className="help">A key file lets a program sign in as this account: <span className="mono">postern auth activate-service-account --key-file FILE</span>. Keep it secret; delete a key you no longer use.</p>
      {allowed.has('iam.serviceAccountKeys.create') && (
        <p>
          <button type="button" className="button button-primary" disabled={busy} onClick={() => void create()}>Add key</button>
        </p>
      )}
      {download && (
        <div className="callout" role="status">
          <p><strong>Key created.</strong> This is the only time its private key can be downloaded.</p>
          <a className="button button-primary" href={download.url} download={download.fileName}>Download key file</a>
        </div>
      )}
      <ErrorText message={error} />
      {keys.error !== undefined && <ErrorText message={describeError(keys.error, `list the keys of ${account.email}`)} />}
      <table className="table table-compact">
        <caption className="visually-hidden">Keys of {account.email}</caption>
        <thead>
          <tr>
            <th scope="col">Key ID</th>
            <th scope="col">Created</th>
            <th scope="col"><span className="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {(keys.data ?? []).map((k) => (
            <tr key={k.keyId}>
              <th scope="row" className="mono">{k.keyId}</th>
              <td>{formatTime(k.validAfterTime)}</td>
              <td className="actions">
                {allowed.has('iam.serviceAccountKeys.delete') && (confirming === k.keyId ? (
                  <span className="inline-confirm">
                    <span>Delete this key? Programs using it stop working.</span>
                    <button type="button" className="button button-small button-danger" disabled={busy} onClick={() => void remove(k.keyId)}>Delete key</button>
                    <button type="button" className="button button-small" onClick={() => setConfirming(undefined)}>Keep</button>
                  </span>
                ) : (
                  <button type="button" className="button button-small button-quiet" aria-label={`Delete key ${k.keyId}`} onClick={() => setConfirming(k.keyId)}>Delete</button>
                ))}
              </td>
            </tr>
          ))}
          {keys.data && keys.data.length === 0 && (
            <tr><td colSpan={3} className="empty">No keys. Programs can still act as this account through impersonation.</td></tr>
          )}
        </tbody>
      </table>
    </Modal>
  )
}
