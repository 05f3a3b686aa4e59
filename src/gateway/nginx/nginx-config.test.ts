import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { TrustedProxies } from '../../http/client-address.js'
import { nginxConfig, upstreamBlockName } from './nginx-config.js'
import { DEBIAN_NGINX, findNginx } from './nginx-process.js'
import { SYSTEM_CA_BUNDLE } from './upstream-trust.js'

/** A decision key as decision-key.ts makes them: 32 bytes, base64url. */
const DECISION_KEY = 'k'.repeat(43)

describe('the nginx data plane configuration', () => {
  const services = [
    { uid: 'a1', origin: 'http://127.0.0.1:9000', timeoutSeconds: 300, addresses: ['127.0.0.1'] },
    { uid: 'b-2', origin: 'https://app.internal:8443', timeoutSeconds: 7, addresses: [] },
    { uid: 'c3', origin: 'http://localhost', timeoutSeconds: 7, addresses: ['127.0.0.1', '::1'] },
    { uid: 'd4', origin: 'https://api.example.com', timeoutSeconds: 300, addresses: ['192.0.2.7', '2001:db8::7'] },
  ]
  const config = nginxConfig({ listen: { host: '::1', port: 18080 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000 })

  const block = (uid: string) => upstreamBlockName(uid, services.find((s) => s.uid === uid)!.origin)

  it('forwards plain-HTTP services through one keep-alive block whose peers Lua picks from their verdicts, and writes none of their names or addresses', () => {
    expect(config).toMatch(/upstream postern_http \{ server 0\.0\.0\.1:1; balancer_by_lua_block \{ postern\.balance\(\) \} keepalive 1024;/)
    expect(config).not.toContain(block('a1'))
    expect(config).not.toContain(block('c3'))
    expect(config).not.toContain('127.0.0.1:9000')
    // So a plain-HTTP service created, deleted or pointed elsewhere changes nothing nginx must reload for.
    const others = [{ uid: 'e5', origin: 'http://10.1.2.3:8080', timeoutSeconds: 300, addresses: [] }, ...services.filter((s) => s.uid !== 'a1')]
    expect(nginxConfig({ listen: { host: '::1', port: 18080 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services: others, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000 })).toBe(config)
    expect(config).toContain('listen [::1]:18080 reuseport;')
  })

  it('shows Postern the decision key on every question nginx asks it, and on nothing that goes upstream', () => {
    expect(config.match(/proxy_set_header x-postern-decision-key k{43};/g)).toHaveLength(2) // decisions and upstream errors
    expect(config).toContain(`Host: postern-decision.invalid\\r\\nx-postern-decision-key: ${DECISION_KEY}\\r\\n`) // the bulk renewals
    expect(config.match(/k{43}/g)).toHaveLength(3)
    const options = { listen: { host: '::1', port: 18080 }, decisions: 'unix:/g.sock', runDir: '.', services, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto' as const, upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000 }
    for (const decisionKey of ['', 'short', `${'k'.repeat(40)}; x`, `${'k'.repeat(40)}"\n`]) expect(() => nginxConfig({ ...options, decisionKey })).toThrow(/decision key/)
  })

  it('gives each https service a keep-alive block of its own (no TLS connection passes between server names), one that does not resolve marked down', () => {
    expect(config).toContain(`upstream ${block('d4')} { server 192.0.2.7:443; server [2001:db8::7]:443; keepalive 64;`)
    expect(config).toContain(`upstream ${block('b-2')} { server 127.0.0.1:9 down; keepalive 64;`)
  })

  it('names each service\'s upstream by its uid and its origin, so that a verdict for a service nginx was not reloaded with names nothing it holds', () => {
    expect(block('b-2')).toMatch(/^postern_b_2_[0-9a-f]{12}$/)
    expect(upstreamBlockName('a1', 'http://127.0.0.1:9001')).not.toBe(block('a1'))
    expect(upstreamBlockName('a1', 'https://127.0.0.1:9000')).not.toBe(block('a1'))
    expect(upstreamBlockName('a1', 'http://127.0.0.1:9000')).toBe(block('a1'))
    // Every https service is known to Lua by the name its verdicts give it, with its addresses (none for one that did not resolve: Postern's gateway forwards it).
    expect(config).toContain(`${JSON.stringify(`https://${block('d4')}\t192.0.2.7:443\t[2001:db8::7]:443`)},`)
    expect(config).toContain(`${JSON.stringify(`https://${block('b-2')}`)},`)
    // The timeouts with a named location, which a verdict's timeout must be one of (else Postern's gateway forwards it).
    expect(config).toContain('local TIMEOUTS = { ["7"] = true }')
  })

  it('tells upstreams the peer in X-Forwarded-For, or with --trusted-proxies the chain Lua reads from what they vouch for', () => {
    expect(config.match(/proxy_set_header X-Forwarded-For \$remote_addr;/g)).toHaveLength(3)
    expect(config).not.toContain('forwarded_for(')
    const behind = nginxConfig({ listen: { host: '127.0.0.1', port: 18080 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.parse('10.0.0.0/8,fd00::/8'), maxConnections: 10_000 })
    expect(behind.match(/proxy_set_header X-Forwarded-For \$p_xff;/g)).toHaveLength(3)
    expect(behind).toContain('{ "10.0.0.0", 8 }, { "fd00::", 8 }')
    expect(behind).toContain('var.p_xff = forwarded_for(var.remote_addr, var.http_x_forwarded_for)')
  })

  it('forwards default-timeout services from location / and the others from one named location per timeout', () => {
    expect(config.match(/location @postern_t7 \{/g)).toHaveLength(1)
    expect(config).not.toContain('location @postern_t300')
  })

  it('checks an https upstream’s certificate wherever one may be forwarded to: a named location for each timeout', () => {
    const verifying = config.match(/location @postern_(?:forward|t\d+) \{[^}]*proxy_ssl_verify on;[^}]*\}/g) ?? []
    expect(verifying).toHaveLength(2)
    for (const l of verifying) expect(l).toContain(`proxy_ssl_trusted_certificate "${SYSTEM_CA_BUNDLE}";`)
    for (const l of verifying) expect(l).toContain('proxy_ssl_protocols TLSv1.2 TLSv1.3;')
  })

  it('offers h2 by ALPN only under TLS, and hands HTTP/2 streams to Postern over h2c from an upstream block of their own', () => {
    const tls = nginxConfig({ listen: { host: '127.0.0.1', port: 18443 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000, tls: { cert: '/c.pem', key: '/k.pem' } })
    expect(tls).toContain('listen 127.0.0.1:18443 ssl http2 reuseport;')
    expect(config).not.toMatch(/listen [^;]*http2/)
    // One keep-alive cache for HTTP/1.1 connections, another for h2c ones: nginx would otherwise reuse one for the other.
    expect(config).toContain('upstream postern_h2 { server unix:/run/postern/gateway.sock;')
    expect(config).toMatch(/location @postern_h2 \{\s+grpc_pass grpc:\/\/postern_h2;/)
  })

  it('is accepted by nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    writeFileSync(join(dir, 'nginx.conf'), config.replace('listen [::1]:18080', 'listen 127.0.0.1:18080'))
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('is accepted by nginx -t with 10,000 https services (no configuration token over 4 KB, no Lua function over its constants)', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => ({ uid: `u${i}`, origin: `https://app${i}.example:8443`, timeoutSeconds: 300, addresses: ['127.0.0.1'] }))
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig({ listen: { host: '127.0.0.1', port: 18080 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services: many, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000 }))
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('is accepted by nginx -t under TLS, HTTP/2 included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-nginx-conf-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' })
    const tls = nginxConfig({ listen: { host: '127.0.0.1', port: 18443 }, decisions: 'unix:/run/postern/gateway.sock', decisionKey: DECISION_KEY, runDir: '.', services, modulesDir: DEBIAN_NGINX.modulesDir, workerProcesses: 'auto', upstreamCa: SYSTEM_CA_BUNDLE, trustedProxies: TrustedProxies.none, maxConnections: 10_000, tls: { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') } })
    writeFileSync(join(dir, 'nginx.conf'), tls)
    expect(() => execFileSync(DEBIAN_NGINX.binary, ['-t', '-q', '-p', dir + '/', '-c', join(dir, 'nginx.conf'), '-e', 'stderr'], { stdio: 'pipe' })).not.toThrow()
  })

  it('names the package to install when nginx or its Lua module is missing', () => {
    expect(() => findNginx({ binary: '/nonexistent/nginx', modulesDir: DEBIAN_NGINX.modulesDir })).toThrow('apt-get install -y nginx libnginx-mod-http-lua')
    expect(() => findNginx({ binary: DEBIAN_NGINX.binary, modulesDir: '/nonexistent' })).toThrow(/Lua module .*apt-get install -y libnginx-mod-http-lua/)
  })
})
