import { describe, expect, it } from 'vitest'
import { SESSION_CHANGE, endedSession } from './records.js'

describe('endedSession', () => {
  it('reads back what each SESSION_CHANGE key names, ids with colons included', () => {
    expect(endedSession(SESSION_CHANGE.signIn('h:1'))).toEqual({ signIn: 'h:1' })
    expect(endedSession(SESSION_CHANGE.subject('ann'))).toEqual({ subject: 'ann' })
    expect(endedSession(SESSION_CHANGE.refreshFamily('f1'))).toEqual({ refreshFamily: 'f1' })
  })

  it('names nothing for a key SESSION_CHANGE does not make', () => {
    for (const key of ['', 'ann', 'family', 'sign-in', 'signin:x', 'Subject:ann', ':x']) expect(endedSession(key)).toBeUndefined()
  })
})
