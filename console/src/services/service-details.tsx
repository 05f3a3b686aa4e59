import type { Service } from '../api/types.ts'

/** A service's settings as a definition list; every value is rendered as text. */
export function ServiceDetails({ service }: { service: Service }) {
  const rows: [string, string][] = [
    ['URL', service.uri],
    ['Upstream', service.upstream],
    ['Description', service.description || '—'],
    ['Invoker IAM check', service.invokerIamDisabled ? 'Off: anyone can call it' : 'On: callers need run.routes.invoke'],
    ['Upstream protocol', service.useHttp2 ? 'HTTP/2 (h2c): streams and trailers, as gRPC needs' : 'HTTP/1.1'],
    ['Browser access', service.browserAccess ? 'On: browsers sign in with Postern' : 'Off: browsers get 401'],
    ['Audience check', service.strictAudience ? 'Strict: tokens must be for this service' : 'Any Postern token'],
    ['Custom audiences', service.customAudiences.join(', ') || '—'],
    ['Timeout', `${service.timeoutSeconds} s`],
    ['Labels', Object.entries(service.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '—'],
    ['Created', `${formatTime(service.createTime)} by ${service.creator}`],
    ['Last changed', `${formatTime(service.updateTime)} by ${service.lastModifier}`],
  ]
  return (
    <dl className="details">
      {rows.map(([term, value]) => (
        <div key={term} className="details-row">
          <dt>{term}</dt>
          <dd><bdi>{value}</bdi></dd>
        </div>
      ))}
    </dl>
  )
}

export function formatTime(iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
