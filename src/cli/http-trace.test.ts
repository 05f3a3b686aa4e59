import { describe, expect, it } from 'vitest'
import { describeRequest } from './http-trace.js'
import { showsErrors, showsWarnings } from './verbosity.js'

describe('describeRequest', () => {
  it('shows the method and the whole URL', () => {
    expect(describeRequest({ method: 'GET', origin: 'http://127.0.0.1:7070', path: '/v1/projects/p/services?state=PENDING' })).toBe('GET http://127.0.0.1:7070/v1/projects/p/services?state=PENDING')
    expect(describeRequest({ method: 'POST', origin: new URL('http://127.0.0.1:7070'), path: '/oauth2/token' })).toBe('POST http://127.0.0.1:7070/oauth2/token')
  })

  it('leaves out the value of a query parameter that may hold a secret, however it is spelled', () => {
    expect(describeRequest({ method: 'GET', origin: 'http://h', path: '/x?pageToken=abc&refresh_token=s3cret&Code=x&%61ccess_token=y&state=ok&flag' }))
      .toBe('GET http://h/x?pageToken=REDACTED&refresh_token=REDACTED&Code=REDACTED&%61ccess_token=REDACTED&state=ok&flag')
  })
})

describe('showsWarnings', () => {
  it('up to warning, as gcloud', () => {
    expect((['debug', 'info', 'warning'] as const).map(showsWarnings)).toEqual([true, true, true])
    expect((['error', 'critical', 'none'] as const).map(showsWarnings)).toEqual([false, false, false])
  })
})

describe('showsErrors', () => {
  it('up to error, as gcloud: critical and none leave the error a command fails with unsaid', () => {
    expect((['debug', 'info', 'warning', 'error'] as const).map(showsErrors)).toEqual([true, true, true, true])
    expect((['critical', 'none'] as const).map(showsErrors)).toEqual([false, false])
  })
})
