import { describe, expect, it } from 'vitest'
import { buildServeConfig } from './config.js'

describe('--database-url', () => {
  it('takes PostgreSQL URLs and refuses any other scheme, without repeating the URL (it may hold a password)', () => {
    for (const url of ['postgres://postern@db:5432/postern', 'postgresql://postern:pw@db/postern', 'socket:/var/run/postgresql?db=postern']) {
      expect(buildServeConfig({ databaseUrl: url }, {}).databaseUrl).toBe(url)
    }
    expect(buildServeConfig({}, { POSTERN_DATABASE_URL: 'postgres://db/p' }).databaseUrl).toBe('postgres://db/p')
    for (const url of ['mysql://root:hunter2@127.0.0.1:3306/postern', 'postgress://root:hunter2@db/p', 'root:hunter2@db/p']) {
      let message = ''
      try {
        buildServeConfig({ databaseUrl: url }, {})
      } catch (err) {
        message = (err as Error).message
      }
      expect(message, url).toMatch(/^--database-url \(or POSTERN_DATABASE_URL\) takes a PostgreSQL URL, postgres:\/\/USER@HOST:PORT\/DATABASE/)
      expect(message).not.toContain('hunter2')
    }
  })
})

describe('--metrics-host', () => {
  const refusal = (flags: Parameters<typeof buildServeConfig>[0]) => {
    try {
      buildServeConfig(flags, {})
    } catch (err) {
      return (err as Error).message
    }
    return ''
  }

  it('is loopback unless given, whatever --host is: the listener answers anyone who reaches it', () => {
    expect(buildServeConfig({ metricsPort: '9464' }, {}).metricsHost).toBe('127.0.0.1')
    expect(buildServeConfig({ host: '0.0.0.0', allowInsecureHttp: true, metricsPort: '9464' }, {})).toMatchObject({ host: '0.0.0.0', metricsHost: '127.0.0.1' })
    expect(buildServeConfig({ metricsPort: '9464', metricsHost: '::1' }, {}).metricsHost).toBe('::1')
    expect(buildServeConfig({ metricsPort: '9464', metricsHost: '0.0.0.0', allowInsecureHttp: true }, {}).metricsHost).toBe('0.0.0.0')
  })

  it('refuses plain HTTP on another address than loopback, as --host does, and goes with --metrics-port', () => {
    expect(refusal({ metricsPort: '9464', metricsHost: '0.0.0.0' })).toBe(
      'Refusing to serve plain HTTP on 0.0.0.0 (--metrics-host), which is not a loopback address: give --tls-cert and --tls-key, or --allow-insecure-http if the network between it and Prometheus is yours.',
    )
    expect(refusal({ metricsHost: '127.0.0.1' })).toBe('--metrics-host goes with --metrics-port: it says where that listener binds.')
  })
})

describe('addresses and paths as typed', () => {
  it('takes an IPv6 address in brackets, as URLs write it', () => {
    const config = buildServeConfig({ host: '[::1]', metricsHost: '[::1]', metricsPort: '9464' }, {})
    expect([config.host, config.metricsHost, config.controlUrl]).toEqual(['::1', '::1', 'http://[::1]:7070'])
  })

  it('makes --data-dir, --tls-cert and --tls-key absolute, from where serve starts', () => {
    const config = buildServeConfig({ dataDir: 'data', tlsCert: 'live/cert.pem', tlsKey: 'live/key.pem' }, {})
    expect([config.dataDir, config.tls?.cert, config.tls?.key]).toEqual([`${process.cwd()}/data`, `${process.cwd()}/live/cert.pem`, `${process.cwd()}/live/key.pem`])
  })
})

describe('--key-rotation', () => {
  it('is at least 1h, saying why; shorter only for Postern\'s own tests (NODE_ENV=test)', () => {
    expect(buildServeConfig({}, {}).keyRotationMs).toBe(30 * 86_400_000)
    expect(buildServeConfig({ keyRotation: '1h' }, {}).keyRotationMs).toBe(3_600_000)
    for (const short of ['1s', '59m', '3599']) expect(() => buildServeConfig({ keyRotation: short }, {}), short).toThrow(`--key-rotation must be at least 1h, got '${short}': every key stays in the JWKS`)
    expect(buildServeConfig({ keyRotation: '4s' }, { NODE_ENV: 'test' }).keyRotationMs).toBe(4_000)
  })
})
