import { describe, expect, it } from 'vitest'
import { askingConsent } from './authorize-consent.js'

describe('askingConsent', () => {
  const authorize = '/oauth2/authorize?client_id=postern-cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcb&prompt=login'
  const asked = (path: string) => new URL(path, 'http://x').searchParams.get('prompt')

  it('asks on an authorization request, in place of any prompt it had', () => {
    expect(asked(askingConsent(authorize))).toBe('consent')
  })

  it('marks a way back through another sign-in page where it leads, however deep', () => {
    const federated = `/signin/federated?provider=p/q&return_to=${encodeURIComponent(authorize)}`
    const nested = `/signin?return_to=${encodeURIComponent(`/signin?return_to=${encodeURIComponent(federated)}`)}`
    let inner = askingConsent(nested)
    for (let i = 0; i < 3; i++) inner = new URL(inner, 'http://x').searchParams.get('return_to')!
    expect(new URL(inner, 'http://x').pathname).toBe('/oauth2/authorize')
    expect(asked(inner)).toBe('consent')
  })

  it('leaves any other way back as it is', () => {
    for (const path of ['/console', '/console?x=1', '/signin/service?next=%2F', '/signin']) expect(askingConsent(path)).toBe(path)
  })
})
