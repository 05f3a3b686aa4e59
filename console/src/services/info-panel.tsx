import { useState } from 'react'
import type { Service } from '../api/types.ts'
import { PermissionsTab } from '../iam/permissions-tab.tsx'
import { Tabs } from '../ui/tabs.tsx'
import { ServiceDetails } from './service-details.tsx'
import { serviceIdOf } from './service-id.ts'

type Tab = 'permissions' | 'details'

/** The right-hand panel of the services page, for the service selected by its checkbox. */
export function InfoPanel({ project, selected, onPolicyChanged }: { project: string; selected: Service[]; onPolicyChanged: () => void }) {
  const [tab, setTab] = useState<Tab>('permissions')
  const only = selected.length === 1 ? selected[0] : undefined
  return (
    <aside className="info-panel" aria-label="Info panel">
      {!only ? (
        <div className="info-empty">
          <h2 className="info-title">{selected.length ? `${selected.length} services selected` : 'No service selected'}</h2>
          <p className="muted">Select one service by its checkbox to see and change who can use it.</p>
        </div>
      ) : (
        <>
          <h2 className="info-title">{serviceIdOf(only)}</h2>
          <Tabs label={`About ${serviceIdOf(only)}`} selected={tab} onSelect={setTab} tabs={[{ key: 'permissions', title: 'Permissions' }, { key: 'details', title: 'Details' }]}>
            {tab === 'permissions' ? <PermissionsTab key={only.name} project={project} service={serviceIdOf(only)} onChanged={onPolicyChanged} /> : <ServiceDetails service={only} />}
          </Tabs>
        </>
      )}
    </aside>
  )
}
