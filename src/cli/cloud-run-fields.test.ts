import { describe, expect, it } from 'vitest'
import type { Service } from '../api/types.js'
import { withCloudRunFields } from './cloud-run-fields.js'

describe('withCloudRunFields', () => {
  it('adds the Knative fields gcloud users project (status.url, metadata.name, …), named from Postern’s own', () => {
    const s = { name: 'projects/p1/services/hello', uid: 'u1', uri: 'http://hello.p1.localhost:7080', labels: { a: 'b' }, createTime: '2026-01-01T00:00:00Z' } as unknown as Service
    expect(withCloudRunFields(s)).toMatchObject({
      ...s,
      metadata: { name: 'hello', namespace: 'p1', uid: 'u1', labels: { a: 'b' }, creationTimestamp: '2026-01-01T00:00:00Z' },
      status: { url: 'http://hello.p1.localhost:7080', address: { url: 'http://hello.p1.localhost:7080' } },
    })
  })
})
