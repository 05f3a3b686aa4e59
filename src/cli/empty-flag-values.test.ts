import { describe, expect, it } from 'vitest'
import { emptyFlagValue } from './empty-flag-values.js'

describe('emptyFlagValue', () => {
  it('refuses an empty or blank --project, --configuration or --impersonate-service-account', () => {
    expect(emptyFlagValue({ project: '' }, 'list')).toBe("--project needs a value, e.g. --project=my-project; to use the configuration's project (postern config get project), leave the flag out.")
    expect(emptyFlagValue({ configuration: ' ' }, 'list')).toContain('--configuration needs a value')
    expect(emptyFlagValue({ impersonateServiceAccount: '' }, 'print-access-token')).toContain('--impersonate-service-account needs a value')
  })

  it('lets values, absent flags and serve’s own --project through', () => {
    expect(emptyFlagValue({ project: 'p-1234', quiet: true }, 'list')).toBeUndefined()
    expect(emptyFlagValue({}, 'list')).toBeUndefined()
    expect(emptyFlagValue({ project: '' }, 'serve')).toBeUndefined()
  })
})
