import { describe, expect, it } from 'vitest'
import { noActiveAccount } from './no-active-account.js'

describe('noActiveAccount', () => {
  it('says to sign in when no credentials are stored for the server', () => {
    expect(noActiveAccount('http://127.0.0.1:7070', [])).toBe('You are not signed in. Run: postern auth login')
  })

  it('names the one account stored for the server and the command that makes it active', () => {
    expect(noActiveAccount('http://127.0.0.1:7070', ['owner@example.com'])).toBe(
      'You do not currently have an active account selected. Credentials for http://127.0.0.1:7070 are stored for:\n  owner@example.com\nTo use it, run: postern config set account owner@example.com\nor sign in as another: postern auth login',
    )
  })

  it('lists several once each; a hand-edited account shows no control character', () => {
    const text = noActiveAccount('http://s', ['a@example.com', 'b\u001b[31m@example.com', 'a@example.com'])
    expect(text).toContain('\n  a@example.com\n  b?[31m@example.com\nTo use one, run: postern config set account ACCOUNT\n')
  })
})
