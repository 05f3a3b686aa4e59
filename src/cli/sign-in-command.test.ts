import { describe, expect, it } from 'vitest'
import { signInCommand } from './sign-in-command.js'

describe('signInCommand', () => {
  it('names the account: a person signs in as it, a service account activates a key, a federated principal uses its login configuration', () => {
    expect(signInCommand('nobody@example.com')).toBe('postern auth login nobody@example.com')
    expect(signInCommand('ci-bot@my-project.iam.postern.internal')).toBe('postern auth activate-service-account ci-bot@my-project.iam.postern.internal --key-file=FILE')
    expect(signInCommand('principal://iam.postern/workforcePools/acme/subject/ann')).toBe('postern auth login --login-config LOGIN_CONFIG_FILE')
  })

  it('quotes an account that is not one shell word, and shows control characters as ?', () => {
    expect(signInCommand("o'brien x@example.com")).toBe(`postern auth login 'o'\\''brien x@example.com'`)
    expect(signInCommand('a\u001b[31m@example.com')).toBe(`postern auth login 'a?[31m@example.com'`)
  })
})
