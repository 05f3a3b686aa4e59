import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { childrenOf, startProcess, type Started } from './processes.js'

/** The body sizes the upstream serves: a short fixed text at `/`, 64 KB at `/64k`. */
export const SMALL_BODY = 'hello from the upstream\n'
export const LARGE_PATH = '/64k'
export const LARGE_BYTES = 64 * 1024

export interface Nginx {
  port: number
  /** The worker processes (where requests are served), for CPU and RSS. */
  workers(): number[]
  stop(): Promise<void>
}

/**
 * Our own nginx processes on free loopback ports, each in its own prefix directory with a
 * generated configuration; never the system's nginx service. One worker each, like the one
 * gateway process they are compared with; access logs off, as the gateway keeps none.
 */
function common(prefix: string, workers: number | 'auto'): string {
  // Started by root, nginx's workers would run as nobody and could not read our 0700 temp dir.
  const user = process.getuid?.() === 0 ? `user ${userInfo().username};` : ''
  return `
${user}
daemon off;
master_process on;
worker_processes ${workers};
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  sendfile on;
  tcp_nodelay on;
`
}

async function startNginx(prefix: string, config: string, port: number): Promise<Nginx> {
  mkdirSync(join(prefix, 'tmp'), { recursive: true })
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(conf, config)
  const master: Started = await startProcess('nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { readyPort: port, timeoutMs: 15_000 })
  return { port, workers: () => childrenOf(master.pid), stop: () => master.stop() }
}

export async function startUpstream(prefix: string, port: number, workers = 1): Promise<Nginx> {
  mkdirSync(join(prefix, 'www'), { recursive: true })
  writeFileSync(join(prefix, 'www', LARGE_PATH.slice(1)), Buffer.alloc(LARGE_BYTES, 'x'))
  const config = `${common(prefix, workers)}
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location = / { default_type text/plain; return 200 ${JSON.stringify(SMALL_BODY)}; }
    location = ${LARGE_PATH} { root ${prefix}/www; default_type application/octet-stream; }
  }
}
`
  return startNginx(prefix, config, port)
}

/**
 * Another nginx on the configuration a running one was given (the data plane's, as Postern wrote
 * it), in a prefix of its own, on another port, with `workers` workers: the same Lua, the same
 * Postern deciding.
 */
export async function startCopy(prefix: string, conf: string, o: { fromPort: number; port: number; workers: number }): Promise<Nginx> {
  return startNginx(prefix, copyConfig(prefix, conf, o), o.port)
}

/** startCopy's configuration (its temporary files' directories made in prefix). */
export function copyConfig(prefix: string, conf: string, o: { fromPort: number; port: number; workers: number }): string {
  const original = readFileSync(conf, 'utf8')
  const listen = `listen 127.0.0.1:${o.fromPort} `
  const workers = /^worker_processes .*;$/m
  if (!original.includes(listen) || !workers.test(original)) throw new Error(`bench: ${conf} has no "${listen}" or worker_processes to change`)
  // Its temporary files' directories, relative to the prefix as in the original.
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, d), { recursive: true })
  return original.replace(listen, `listen 127.0.0.1:${o.port} `).replace(workers, `worker_processes ${o.workers};\ndaemon off;`)
}

/** nginx as a plain reverse proxy: keep-alive to the upstream, the headers a proxy should set. */
export async function startProxy(prefix: string, port: number, upstreamPort: number, workers: number | 'auto' = 1): Promise<Nginx> {
  return startNginx(prefix, proxyConfig(prefix, port, upstreamPort, workers), port)
}

/** startProxy's configuration. */
export function proxyConfig(prefix: string, port: number, upstreamPort: number, workers: number | 'auto'): string {
  return `${common(prefix, workers)}
  upstream backend {
    server 127.0.0.1:${upstreamPort};
    keepalive 256;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} reuseport backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      # Room for the 64 KB body in memory: nginx would otherwise spill it to a temp file.
      proxy_buffer_size 16k;
      proxy_buffers 16 16k;
      proxy_busy_buffers_size 32k;
    }
  }
}
`
}

/** Caddy's reverse_proxy as the Go reference, on one core (GOMAXPROCS=1), admin API and HTTPS off. */
export async function startCaddy(prefix: string, port: number, upstreamPort: number): Promise<Started & { port: number }> {
  mkdirSync(prefix, { recursive: true })
  const file = join(prefix, 'Caddyfile')
  writeFileSync(file, `{\n  admin off\n  auto_https off\n}\nhttp://127.0.0.1:${port} {\n  reverse_proxy 127.0.0.1:${upstreamPort}\n}\n`)
  const caddy = await startProcess('caddy', ['run', '--config', file, '--adapter', 'caddyfile'], { readyPort: port, timeoutMs: 15_000, env: { ...process.env, GOMAXPROCS: '1', HOME: prefix, XDG_DATA_HOME: prefix, XDG_CONFIG_HOME: prefix } })
  return Object.assign(caddy, { port })
}
