import { serviceName } from '../iam/resources.js'
import type { ServiceRecord } from '../store/records.js'
import { rfc3339 } from './handler.js'

/** The service URL (DESIGN §2): `{service}.{project}.` before the gateway URL's host; no trailing slash. */
export function serviceUri(gatewayUrl: URL, projectId: string, serviceId: string): string {
  return `${gatewayUrl.protocol}//${serviceId}.${projectId}.${gatewayUrl.host}`
}

export function serviceView(s: ServiceRecord, gatewayUrl: URL) {
  return {
    name: serviceName(s.projectId, s.serviceId),
    uid: s.uid,
    uri: serviceUri(gatewayUrl, s.projectId, s.serviceId),
    upstream: s.upstream,
    description: s.description,
    invokerIamDisabled: s.invokerIamDisabled,
    customAudiences: s.customAudiences,
    strictAudience: s.strictAudience,
    browserAccess: s.browserAccess,
    timeoutSeconds: s.timeoutSeconds,
    labels: s.labels,
    createTime: rfc3339(s.createTime),
    updateTime: rfc3339(s.updateTime),
    creator: s.creator,
    lastModifier: s.lastModifier,
    etag: s.etag,
  }
}
