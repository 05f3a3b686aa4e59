import { describe, expect, it } from 'vitest'
import { unsupportedRole } from './unsupported-role.js'

/** The server's catalogue is tested through parseRole (iam/roles.test.ts); this is the CLI's use, with a catalogue as GET /v1/roles sends it. */
const catalogue = [
  { name: 'roles/run.invoker', title: 'Run Invoker' },
  { name: 'roles/run.viewer', title: 'Run Viewer' },
  { name: 'roles/owner', title: 'Owner' },
]

describe('unsupportedRole', () => {
  it.each([
    ['run.invoker', "Role 'run.invoker' is not supported. Did you mean 'roles/run.invoker'? See 'postern iam roles list'."],
    ['roles/run.invokr', "Role 'roles/run.invokr' is not supported. Did you mean 'roles/run.invoker'? See 'postern iam roles list'."],
    ['Run Viewer', "Role 'Run Viewer' is not supported. Did you mean 'roles/run.viewer'? See 'postern iam roles list'."],
    ['roles/god', "Role 'roles/god' is not supported. See 'postern iam roles list'."],
    ['roles/x\u001b[2J', "Role 'roles/x?[2J' is not supported. See 'postern iam roles list'."],
  ])('%j', (raw, message) => {
    expect(unsupportedRole(raw, catalogue)).toBe(message)
  })

  it('names what is not a string as it is, and suggests nothing', () => {
    expect(unsupportedRole(1, catalogue)).toBe("Role '1' is not supported. See 'postern iam roles list'.")
  })
})
