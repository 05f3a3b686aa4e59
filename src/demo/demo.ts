import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { newUid, randomToken } from '../core/ids.js'
import { serviceName } from '../iam/resources.js'
import type { Store } from '../store/store.js'

/** Says "a demo upstream" to runningDemoUpstream, which cannot tell it by its port (a new one each start). */
const DEMO_HEADER = 'x-postern-demo-upstream'
/** The only upstream startDemoUpstream makes: anything else on a demo's hello is the admin's, and never probed. */
const DEMO_URL = /^http:\/\/127\.0\.0\.1:\d+$/

/**
 * `postern serve --demo`: a small upstream that greets the caller by the identity headers the
 * gateway adds, registered as the private service `hello` (DESIGN §2). Its port changes with
 * every start, so the service's upstream is updated; a `hello` not made by the demo is left alone.
 */
export async function startDemoUpstream(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    // A federated caller may have no email: then its principal names it.
    const who = req.headers['x-postern-authenticated-email'] || req.headers['x-postern-authenticated-principal'] || 'anonymous'
    const body = JSON.stringify({ message: `Hello, ${who}! This is Postern's demo upstream.`, path: req.url, principal: req.headers['x-postern-authenticated-principal'] ?? null }, null, 2) + '\n'
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [DEMO_HEADER]: '1' })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

/**
 * Creates `hello` on the first start; on later starts only points it at this start's upstream.
 * Whatever else was changed on it (`--browser-access=off`, labels, a timeout) is the admin's and
 * stays. The demo's `hello` is the one `system` created, whatever its labels became since.
 */
export async function registerDemoService(store: Store, projectId: string, upstream: string, now: number): Promise<void> {
  await store.transaction(async (tx) => {
    const existing = await tx.getService(projectId, 'hello')
    if (existing && existing.creator !== 'system' && existing.labels['postern-demo'] !== 'true') return
    if (existing?.upstream === upstream) return
    const record = existing
      ? { ...existing, upstream, updateTime: now, lastModifier: 'system', etag: randomToken(9) }
      : {
          projectId,
          serviceId: 'hello',
          uid: newUid(),
          upstream,
          description: 'The demo upstream started by postern serve --demo.',
          invokerIamDisabled: false,
          customAudiences: [],
          strictAudience: false,
          browserAccess: true,
          useHttp2: false,
          timeoutSeconds: 30,
          labels: { 'postern-demo': 'true' },
          createTime: now,
          updateTime: now,
          creator: 'system',
          lastModifier: 'system',
          etag: randomToken(9),
        }
    if (existing) await tx.updateService(record, existing.etag)
    else if (!(await tx.insertService(record))) return
    await tx.appendAudit({ time: now, principal: 'system', method: existing ? 'services.update' : 'services.create', resource: serviceName(projectId, 'hello'), outcome: 'OK', details: existing ? { demo: true, upstream } : { demo: true } })
    await tx.recordChange('service', `${projectId}/hello`)
  })
}

/**
 * The upstream of a demo's `hello` that another `postern serve --demo` on this store still
 * serves, or undefined. A second demo start would otherwise point `hello` at its own upstream,
 * and when it stopped (or failed on a busy port) leave the first server's `hello` at a dead one.
 * A demo upstream that no longer answers (the previous start, stopped) is what a restart replaces.
 */
export async function runningDemoUpstream(store: Store, projectId: string): Promise<string | undefined> {
  const existing = await store.getService(projectId, 'hello')
  if (!existing || (existing.creator !== 'system' && existing.labels['postern-demo'] !== 'true')) return undefined
  if (!DEMO_URL.test(existing.upstream)) return undefined
  return (await answersAsDemo(existing.upstream)) ? existing.upstream : undefined
}

/**
 * Whether `url` answers as a demo upstream, within 2 s in all: `hello`'s upstream may have been
 * pointed at anything on this machine, and one that sends its head a byte at a time must not hold
 * the start (a socket timeout alone is reset by every byte).
 */
function answersAsDemo(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', signal: AbortSignal.timeout(2_000) }, (res) => {
      res.destroy()
      resolve(res.headers[DEMO_HEADER] === '1')
    })
    req.on('error', () => resolve(false))
    req.end()
  })
}
