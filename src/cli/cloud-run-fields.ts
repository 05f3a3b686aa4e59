import type { Service } from '../api/types.js'

/**
 * A service with, beside Postern's own fields, the ones Cloud Run's v1 API (Knative) shows and
 * gcloud's users project by habit — Cloud Run's own docs get a service's URL with
 * `gcloud run services describe SERVICE --format='value(status.url)'`. Postern's fields are
 * Cloud Run v2's (`uri`, `name`, `labels`); without these, such a projection printed an empty
 * line, which a script takes for a URL. Used for projections only: JSON and YAML stay Postern's.
 */
export function withCloudRunFields(s: Service): Service & { metadata: Record<string, unknown>; status: Record<string, unknown> } {
  const [, project, , name] = s.name.split('/')
  return {
    ...s,
    metadata: { name, namespace: project, uid: s.uid, labels: s.labels, creationTimestamp: s.createTime },
    status: { url: s.uri, address: { url: s.uri } },
  }
}
