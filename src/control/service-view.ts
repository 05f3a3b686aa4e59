import { PROJECT_ID, SERVICE_ID, serviceName } from '../iam/resources.js'
import type { ServiceRecord } from '../store/records.js'
import { rfc3339 } from './handler.js'

/** The service URL (DESIGN §2): `{service}.{project}.` before the gateway URL's host; no trailing slash. */
export function serviceUri(gatewayUrl: URL, projectId: string, serviceId: string): string {
  return `${gatewayUrl.protocol}//${serviceId}.${projectId}.${gatewayUrl.host}`
}

/**
 * The service a URL is on, when its origin is exactly a service URL's (scheme, host and port of
 * `{service}.{project}.` before the gateway URL's host); the inverse of serviceUri.
 */
export function serviceAtUrl(url: URL, gatewayUrl: URL): { projectId: string; serviceId: string } | undefined {
  const suffix = '.' + gatewayUrl.host
  if (url.protocol !== gatewayUrl.protocol || url.username || url.password || !url.host.endsWith(suffix)) return undefined
  const labels = url.host.slice(0, -suffix.length).split('.')
  if (labels.length !== 2 || !SERVICE_ID.test(labels[0]!) || !PROJECT_ID.test(labels[1]!)) return undefined
  const [serviceId, projectId] = labels as [string, string]
  return url.origin === serviceUri(gatewayUrl, projectId, serviceId) ? { projectId, serviceId } : undefined
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
    useHttp2: s.useHttp2,
    timeoutSeconds: s.timeoutSeconds,
    labels: s.labels,
    createTime: rfc3339(s.createTime),
    updateTime: rfc3339(s.updateTime),
    creator: s.creator,
    lastModifier: s.lastModifier,
    etag: s.etag,
  }
}
