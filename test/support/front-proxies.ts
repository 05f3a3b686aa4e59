import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './ports.js'

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url))

export interface FrontProxy {
  port: number
  stop(): Promise<void>
  log(): string
}

function render(file: string, values: Record<string, string>): string {
  return readFileSync(join(EXAMPLES, file), 'utf8').replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    if (values[k] === undefined) throw new Error(`${file}: no value for {{${k}}}`)
    return values[k]
  })
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited early:\n${log()}`)
    try {
      await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1_000) })
      return
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error(`did not listen on ${port}:\n${log()}`)
}

function stopper(child: ChildProcess) {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
}

/** Debian's nginx modules the example needs (libnginx-mod-http-lua and the kit it builds on). */
const NGINX_MODULES = ['/usr/lib/nginx/modules/ndk_http_module.so', '/usr/lib/nginx/modules/ngx_http_lua_module.so']

/** What the examples are rendered with: the app, Postern's gateway, the host of the service the app is, and nginx's or Caddy's port. */
export interface FrontProxyOptions {
  upstream: string
  gateway: string
  serviceHost: string
  port?: number
}

/** nginx from Debian (with its Lua module) running examples/nginx/postern-auth-request.conf, on `port` or a free one, in its own prefix. */
export async function startNginx(o: FrontProxyOptions): Promise<FrontProxy> {
  return startNginxSite((listen) => render('nginx/postern-auth-request.conf', { LISTEN: listen, UPSTREAM: o.upstream, POSTERN_GATEWAY: o.gateway, SERVICE_HOST: o.serviceHost }), o.port)
}

/** nginx from Debian (with its Lua module) serving the http-block text `site` makes of its listen address, on `port` or a free one, in its own prefix. */
export async function startNginxSite(site: (listen: string) => string, port?: number): Promise<FrontProxy> {
  const prefix = mkdtempSync(join(tmpdir(), 'postern-nginx-'))
  mkdirSync(join(prefix, 'logs'))
  port ??= await freePort()
  writeFileSync(join(prefix, 'site.conf'), site(`127.0.0.1:${port}`))
  writeFileSync(
    join(prefix, 'nginx.conf'),
    NGINX_MODULES.map((m) => `load_module ${m};\n`).join('') +
      `daemon off;\nmaster_process off;\npid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log warn;\nevents { worker_connections 1024; }\nhttp {\n  access_log off;\n` +
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${prefix}/${t};\n`).join('') +
      `  include ${prefix}/site.conf;\n}\n`,
  )
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  const log = () => out + readFileSafe(join(prefix, 'error.log'))
  await waitForPort(port, child, log)
  return { port, stop: stopper(child), log }
}

/** What examples/nginx/postern-behind-tls.conf is rendered with: nginx's two ports, Postern's gateway and control plane (host:port), a certificate. */
export interface TlsFrontOptions {
  gatewayPort: number
  controlPort: number
  gateway: string
  control: string
  tls: { cert: string; key: string }
}

/** nginx from Debian ending TLS in front of Postern's gateway and control plane (examples/nginx/postern-behind-tls.conf, `Host $host`), services under localhost. */
export async function startNginxTlsFront(o: TlsFrontOptions): Promise<FrontProxy> {
  const values = { CONTROL_LISTEN: `127.0.0.1:${o.controlPort}`, SERVICES_NAME: 'localhost', CONTROL_NAME: 'localhost', POSTERN_GATEWAY: o.gateway, POSTERN_CONTROL: o.control, CERT: o.tls.cert, KEY: o.tls.key }
  return startNginxSite((listen) => render('nginx/postern-behind-tls.conf', { ...values, GATEWAY_LISTEN: listen }), o.gatewayPort)
}

/** Caddy from Debian running examples/caddy/Caddyfile, on `port` or a free one. */
export async function startCaddy(o: FrontProxyOptions): Promise<FrontProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-caddy-'))
  const port = o.port ?? (await freePort())
  writeFileSync(join(dir, 'Caddyfile'), render('caddy/Caddyfile', { LISTEN_PORT: String(port), UPSTREAM: o.upstream, POSTERN_GATEWAY: o.gateway, SERVICE_HOST: o.serviceHost }))
  const child = spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d))
  child.stderr!.on('data', (d: Buffer) => (out += d))
  await waitForPort(port, child, () => out)
  return { port, stop: stopper(child), log: () => out }
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
