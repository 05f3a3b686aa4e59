import { describe, expect, it } from 'vitest'
import { parseUpstream } from './upstream-url.js'

const refusal = (raw: string) => {
  try {
    parseUpstream(raw)
    return 'accepted'
  } catch (err) {
    return (err as Error).message
  }
}

describe('parseUpstream', () => {
  it('keeps an http or https URL, without its trailing slash', () => {
    expect(parseUpstream('http://127.0.0.1:9000/')).toBe('http://127.0.0.1:9000')
    expect(parseUpstream('https://api.internal/base/')).toBe('https://api.internal/base')
  })

  it('names the URL meant by an address typed without a scheme', () => {
    expect(refusal('localhost:3000')).toBe("upstream: 'localhost:3000' names no scheme: give http://localhost:3000 (or https://…).")
    expect(refusal('127.0.0.1:3000/app')).toBe("upstream: '127.0.0.1:3000/app' names no scheme: give http://127.0.0.1:3000/app (or https://…).")
    expect(refusal(':3000')).toBe("upstream: ':3000' names no scheme: give http://127.0.0.1:3000 (or https://…).")
    expect(refusal('3000')).toBe("upstream: '3000' names no scheme: give http://127.0.0.1:3000 (or https://…).")
  })

  it('refuses what is no http URL as before', () => {
    expect(refusal('ftp://files.internal')).toBe('upstream: only http:// and https:// upstreams are supported.')
    expect(refusal('http://u:p@localhost:3000')).toBe('upstream: credentials in the URL are not allowed.')
    expect(refusal('http://localhost:99999')).toBe("upstream: 'http://localhost:99999' is not a URL (e.g. http://127.0.0.1:9000).")
    expect(refusal('')).toBe("upstream: '' is not a URL (e.g. http://127.0.0.1:9000).")
  })
})
