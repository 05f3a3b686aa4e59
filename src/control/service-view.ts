import type { Service } from '../api/types.js'
import { serviceName } from '../iam/resources.js'
import { serviceUri } from '../iam/service-url.js'
import type { ServiceRecord } from '../store/records.js'
import { rfc3339 } from './handler.js'
import { decide } from '../iam/decide.js'
import type { Member } from '../iam/members.js'
import type { Directory } from '../directory/directory.js'

const ALL_USERS: ReadonlySet<Member> = new Set<Member>(['allUsers'])

function openToAllUsers(directory: Directory, name: string, now: number): boolean {
  return decide({ policies: directory.policyChain(name), members: ALL_USERS, permission: 'run.routes.invoke', resource: { name, type: 'run.postern/Service' }, now }).allow
}

/**
 * A service on the wire: the shape the CLI and the console read (src/api), on every answer alike.
 * It says whether allUsers may invoke it now, decided from the directory at `now` as the gateway
 * decides (a service open to everyone needs no token, whatever its invoker check says).
 */
export function serviceView(s: ServiceRecord, at: { gatewayUrl: URL; directory: Directory; now: number }): Service {
  const name = serviceName(s.projectId, s.serviceId)
  return {
    name,
    uid: s.uid,
    uri: serviceUri(at.gatewayUrl, s.projectId, s.serviceId),
    allUsersMayInvoke: openToAllUsers(at.directory, name, at.now),
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
