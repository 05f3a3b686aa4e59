import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { MAX_TIMEOUT_SECONDS } from '../../api/service-timeout.js'
import { TrustedProxies } from '../../http/client-address.js'
import { DECIDE_READ_SECONDS, nginxConfig } from './nginx-config.js'
import { DEBIAN_NGINX, findNginx } from './nginx-process.js'
import { shapeServices } from './nginx-shape.js'
import { SYSTEM_CA_BUNDLE } from './upstream-trust.js'

/** A decision key as decision-key.ts makes them: 32 bytes, base64url. */
const DECISION_KEY = 'k'.repeat(43)

describe('the nginx data plane configuration', () => {
  const services = [
    { upstream: 'http://127.0.0.1:9000', timeoutSeconds: 300 },
    { upstream: 'https://app.internal:8443', timeoutSeconds: 7 },
    { upstream: 'http://localhost', timeoutSeconds: 7 },
    { upstream: 'https://api.example.com/v1', timeoutSeconds: 900 },
  ]
  const base = { listen: { host: '::1', port: 18080 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto' as const, upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, publicPort: '18080', gatewayHost: 'run.example.com', maxConnections: 10_000 }
  const config = nginxConfig({ ...base, shape: shapeServices(services).shape })

  it('names no service, upstream or address: a service created, deleted or pointed elsewhere changes nothing nginx must reload for', () => {
    expect(config).toMatch(/upstream postern_http \{ server 0\.0\.0\.1:1; balancer_by_lua_block \{ postern\.balance\(\) \} keepalive 1024;/)
    for (const s of services) expect(config).not.toContain(new URL(s.upstream).host)
    const others = [{ upstream: 'http://10.1.2.3:8080', timeoutSeconds: 300 }, { upstream: 'https://elsewhere.example', timeoutSeconds: 3600 }, ...services.slice(1)]
    const after = shapeServices(others, shapeServices(services))
    expect(after.reload).toBe(false)
    expect(nginxConfig({ ...base, shape: after.shape })).toBe(config)
    expect(config).toContain('listen [::1]:18080 reuseport;')
  })

  it('gives https upstreams keep-alive blocks that Lua hands out one to a server name, half as many again as are in use and 32 spare at least', () => {
    const blocks = config.match(/upstream postern_tls_\d+ \{ server 0\.0\.0\.1:1; balancer_by_lua_block \{ postern\.balance\(\) \} keepalive 64;/g) ?? []
    expect(blocks).toHaveLength(2 + 32)
    expect(config).toContain('local TLS_BLOCKS = 34')
    expect(shapeServices(Array.from({ length: 100 }, (_, i) => ({ upstream: `https://app${i % 90}.example`, timeoutSeconds: 300 }))).shape.tlsBlocks).toBe(90 + 45)
  })

  it('shows Postern the decision key on every question nginx asks it, and on nothing that goes upstream', () => {
    expect(config.match(/proxy_set_header x-postern-decision-key k{43};/g)).toHaveLength(2) // decisions and upstream errors
    expect(config).toContain(`Host: postern-decision.invalid\\r\\nx-postern-decision-key: ${DECISION_KEY}\\r\\n`) // the bulk renewals
    expect(config.match(/k{43}/g)).toHaveLength(3)
    for (const decisionKey of ['', 'short', `${'k'.repeat(40)}; x`, `${'k'.repeat(40)}"\n`]) expect(() => nginxConfig({ ...base, shape: shapeServices([]).shape, decisionKey })).toThrow(/decision key/)
  })

  it('tells upstreams the peer in X-Forwarded-For, or with --trusted-proxies the chain Lua reads from what they vouch for', () => {
    expect(config.match(/proxy_set_header X-Forwarded-For \$remote_addr;/g)).toHaveLength(3)
    expect(config).not.toContain('forwarded_for(')
    const behind = nginxConfig({ ...base, shape: shapeServices(services).shape, trustedProxies: TrustedProxies.parse('10.0.0.0/8,fd00::/8') })
    expect(behind.match(/proxy_set_header X-Forwarded-For \$p_xff;/g)).toHaveLength(3)
    expect(behind).toContain('{ "10.0.0.0", 8 }, { "fd00::", 8 }')
    expect(behind).toContain('var.p_xff = forwarded_for(var.remote_addr, var.http_x_forwarded_for)')
  })

  it('forwards default-timeout services from location / or @postern_forward, with a named location for each timeout under a minute (the body\'s), the others timed by Lua', () => {
    expect(config.match(/location @postern_t\d+ \{/g)).toEqual(['location @postern_t7 {'])
    expect(config).toMatch(/location @postern_t7 \{[^}]*client_body_timeout 7s;/)
    expect(config).toContain('local BODY_TIMEOUTS = { ["7"] = true }')
    // Every location forwarding to services waits as long as the default: postern.balance sets a service's own timeout.
    expect(config.match(/proxy_read_timeout \d+s;/g)).toEqual(expect.arrayContaining(['proxy_read_timeout 300s;']))
    expect(config).not.toMatch(/proxy_read_timeout (?:7|900)s;/)
    expect(config).toContain('balancer.set_timeouts(')
  })

  it('checks an https upstream’s certificate wherever one may be forwarded to: a named location for each timeout', () => {
    const verifying = config.match(/location @postern_(?:forward|t\d+) \{[^}]*proxy_ssl_verify on;[^}]*\}/g) ?? []
    expect(verifying).toHaveLength(2)
    for (const l of verifying) expect(l).toContain(`proxy_ssl_trusted_certificate "${SYSTEM_CA_BUNDLE}";`)
    for (const l of verifying) expect(l).toContain('proxy_ssl_protocols TLSv1.2 TLSv1.3;')
  })

  it('offers h2 by ALPN only under TLS, and hands HTTP/2 streams to Postern over h2c from an upstream block of their own', () => {
    const tls = nginxConfig({ ...base, listen: { host: '127.0.0.1', port: 18443 }, shape: shapeServices(services).shape, tls: { cert: '/c.pem', key: '/k.pem' } })
    expect(tls).toContain('listen 127.0.0.1:18443 ssl http2 reuseport;')
    expect(config).not.toMatch(/listen [^;]*http2/)
    // One keep-alive cache for HTTP/1.1 connections, another for h2c ones: nginx would otherwise reuse one for the other.
    expect(config).toContain('upstream postern_h2 { server unix:/run/postern/gateway.sock;')
    expect(config).toMatch(/location @postern_h2 \{\s+grpc_pass grpc:\/\/postern_h2;/)
  })

  it('waits on Postern\'s gateway, for every request handed to it whole, past the longest service timeout: the gateway\'s own 504 comes first', () => {
    // /healthz of a service whose upstream takes 75 s got nginx's 504 at its default 60 s, worded as Postern unreachable.
    const seconds = (d: string) => Number(d.slice(0, -1)) * { s: 1, m: 60, h: 3600, d: 86400 }[d.slice(-1) as 's' | 'm' | 'h' | 'd']
    // (Each location of more than one line, to its closing brace: a Lua block inside holds braces of its own.)
    const handed = [...config.matchAll(/^ {4}location ([^{\n]+) \{(\n[^]*?)\n {4}\}/gm)].filter((m) => m[2]!.includes('proxy_pass http://postern_decisions;'))
    expect(handed.map((m) => m[1])).toEqual(['@postern_upgrade', '@postern_gateway', '= /healthz', '= /readyz', '@postern_service_health', '= /forward-auth', '^~ /forward-auth/'])
    for (const [, name, block] of handed) {
      for (const directive of ['proxy_read_timeout', 'proxy_send_timeout']) {
        const value = block!.match(new RegExp(`${directive} (\\d+[smhd]);`))?.[1]
        // The gateway's own /healthz and /readyz (a host no service has) are bounded as a decision is;
        // on a host a service may have, Lua hands them to @postern_service_health.
        if (name === '= /healthz' || name === '= /readyz') {
          expect(value && seconds(value), `${directive} in ${name}`).toBe(DECIDE_READ_SECONDS)
          expect(block).toContain('access_by_lua_block { postern.health() }')
        } else {
          expect(value && seconds(value), `${directive} in ${name}`).toBeGreaterThan(MAX_TIMEOUT_SECONDS)
        }
      }
    }
    expect(config).toContain('local SERVICE_HOST_END = ".run.example.com"')
  })

  it('is accepted by nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    writeFileSync(join(dir, 'nginx.conf'), config.replace('listen [::1]:18080', 'listen 127.0.0.1:18080'))
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('is accepted by nginx -t with 10,000 https server names and every timeout under a minute', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ upstream: `https://app${i}.example:8443`, timeoutSeconds: 1 + (i % 3600) }))
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ ...base, listen: { host: '127.0.0.1', port: 18080 }, shape: shapeServices(many).shape }))
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('is accepted by nginx -t under TLS, HTTP/2 included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' })
    const tls = nginxConfig({ ...base, listen: { host: '127.0.0.1', port: 18443 }, shape: shapeServices(services).shape, tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') } })
    writeFileSync(join(dir, 'nginx.conf'), tls)
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('names the package to install when nginx or its Lua module is missing', () => {
    expect(() => findNginx({ binary: '/nonexistent/nginx', modulesDir: DEBIAN_NGINX.modulesDir })).toThrow('apt-get install -y nginx libnginx-mod-http-lua')
    expect(() => findNginx({ binary: DEBIAN_NGINX.binary, modulesDir: '/nonexistent' })).toThrow(/Lua module .*apt-get install -y libnginx-mod-http-lua/)
  })
})
