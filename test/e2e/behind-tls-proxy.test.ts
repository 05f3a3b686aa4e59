import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { curl } from '../support/curl.js'
import { startNginxSite, type FrontProxy } from '../support/front-proxies.js'
import { freePort } from '../support/ports.js'
import { selfSignedCertificate } from '../support/self-signed.js'
import { DATA_PLANES, startPostern, type PosternProcess } from '../support/server.js'
import { startWsgiUpstream } from '../support/wsgi-upstream.js'

/**
 * The gateway behind Debian's nginx ending TLS, as an operator puts it on a real host
 * (--gateway-url https://…): callers speak https, nginx speaks plain HTTP to the gateway, and the
 * app (a real WSGI app) must still learn that its callers use https, or every absolute link and
 * redirect it builds sends them to plain http.
 */
describe.each(DATA_PLANES)('the gateway behind a proxy that ends TLS (%s data plane)', (dataPlane) => {
  let p: PosternProcess
  let front: FrontProxy
  let app: Awaited<ReturnType<typeof startWsgiUpstream>>
  let port: number

  beforeAll(async () => {
    app = await startWsgiUpstream()
    port = await freePort()
    p = await startPostern({ dataPlane, args: ['--gateway-url', `https://localhost:${port}`] })
    const created = await p.cli(['services', 'create', 'app', `--upstream=${app.url}`])
    expect(created.code, created.stderr).toBe(0)
    const tls = selfSignedCertificate()
    front = await startNginxSite(
      (listen) => `server {
  listen ${listen} ssl;
  ssl_certificate ${tls.cert};
  ssl_certificate_key ${tls.key};
  location / {
    proxy_pass http://127.0.0.1:${p.gatewayPort};
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
  }
}
`,
      port,
    )
  })
  afterAll(async () => {
    await Promise.all([front?.stop(), p?.stop(), app?.close()])
  })

  it('tells the app its callers use https, and the service URL is the https one', async () => {
    const host = `app.my-project.localhost:${port}`
    const described = await p.cli(['services', 'describe', 'app', '--format=value(status.url)'])
    expect(described.stdout.trim()).toBe(`https://${host}`)
    const token = await p.ownerIdToken()
    const res = await curl(['-k', '--resolve', `app.my-project.localhost:${port}:127.0.0.1`, '-H', `Authorization: Bearer ${token}`, `https://${host}/page`])
    expect(res.code, res.stderr).toBe(0)
    const environ = JSON.parse(res.stdout) as Record<string, string>
    expect(environ.HTTP_X_FORWARDED_PROTO).toBe('https')
    expect(environ.HTTP_X_FORWARDED_HOST).toBe(host)
  })
})
