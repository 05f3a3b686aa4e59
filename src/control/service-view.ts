import type { Service } from '../api/types.js'
import { serviceName } from '../iam/resources.js'
import { serviceUri } from '../iam/service-url.js'
import type { ServiceRecord } from '../store/records.js'
import { rfc3339 } from './handler.js'

/** A service on the wire: the shape the CLI and the console read (src/api). */
export function serviceView(s: ServiceRecord, gatewayUrl: URL): Service {
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
