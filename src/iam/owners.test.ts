import { describe, expect, it } from 'vitest'
import { leavesNoOwner, standingOwners } from './owners.js'

const policy = (...bindings: { role: string; members: string[]; condition?: { expression: string; title: string } }[]) => ({ version: 3 as const, bindings })
const owner = (members: string[], condition?: { expression: string; title: string }) => ({ role: 'roles/owner', members, ...(condition && { condition }) })

describe('the organization’s standing owners', () => {
  it('are the unconditional roles/owner members, deleted ones left out', () => {
    const p = policy(owner(['user:a@x.com', 'deleted:user:b@x.com?uid=1']), owner(['user:c@x.com'], { expression: 'false', title: 'never' }), { role: 'roles/run.admin', members: ['user:d@x.com'] })
    expect(standingOwners(p)).toEqual(['user:a@x.com'])
  })

  it('may not all go: neither by a policy written without them nor by the last one’s account going', () => {
    const two = policy(owner(['user:a@x.com', 'group:admins@x.com']))
    expect(leavesNoOwner(two, policy(owner(['group:admins@x.com'])))).toBe(false)
    expect(leavesNoOwner(two, policy())).toBe(true)
    expect(leavesNoOwner(two, policy(owner(['user:a@x.com'], { expression: 'true', title: 't' })))).toBe(true)
    expect(leavesNoOwner(two, two, 'user:a@x.com')).toBe(false)
    expect(leavesNoOwner(policy(owner(['user:a@x.com'])), policy(owner(['user:a@x.com'])), 'user:a@x.com')).toBe(true)
    // An organization with no standing owner already is not made worse by a change.
    expect(leavesNoOwner(policy(), policy())).toBe(false)
  })
})
