import { describe, expect, it } from 'vitest'
import { grantRole, groupByRole, parsePrincipals, revokeRole, StaleBindingError, type PolicySource } from '../../console/src/iam/policy-edit.js'

/** The console's pure policy editing (console/src/iam/policy-edit.ts): what "New principals" and Remove do. */
describe('console policy editing', () => {
  it('reads principals separated by commas or new lines; a bare email is a user', () => {
    expect(parsePrincipals('ann@example.com, group:Team@example.com\nserviceaccount:ci@p.iam.postern.internal\n\nallUsers')).toEqual({
      members: ['user:ann@example.com', 'group:Team@example.com', 'serviceAccount:ci@p.iam.postern.internal', 'allUsers'],
      problems: [],
    })
    expect(parsePrincipals('ann@example.com,ANN@example.com').members).toEqual(['user:ann@example.com'])
    expect(parsePrincipals('principalSet://iam.postern/workforcePools/corp-pool/group/dev').members).toHaveLength(1)
    expect(parsePrincipals('not an email').problems).toHaveLength(3)
    expect(parsePrincipals('user:not-an-email, domain:nodot').problems).toHaveLength(2)
    expect(parsePrincipals('Domain:Example.com').members).toEqual(['domain:Example.com'])
  })

  it('adds to the unconditional binding of the role, and adding twice changes nothing', () => {
    const policy = { version: 3, etag: 'e1', bindings: [{ role: 'roles/run.invoker', members: ['user:a@x.com'], condition: { title: 't', expression: 'true' } }] }
    const once = grantRole(policy, 'roles/run.invoker', ['user:b@x.com'])
    expect(once.bindings).toEqual([policy.bindings[0], { role: 'roles/run.invoker', members: ['user:b@x.com'] }])
    expect(grantRole(once, 'roles/run.invoker', ['user:B@x.com'])).toEqual(once)
    expect(policy.bindings[0]!.members).toEqual(['user:a@x.com']) // the input is left alone
  })

  it('removes a member from the binding with the same condition only, and drops a binding left empty', () => {
    const conditional = { role: 'roles/run.invoker', members: ['user:a@x.com'], condition: { title: 't', expression: 'true' } }
    const policy = { bindings: [conditional, { role: 'roles/run.invoker', members: ['user:a@x.com'] }] }
    expect(revokeRole(policy, 'roles/run.invoker', undefined, 'user:a@x.com').bindings).toEqual([conditional])
    expect(revokeRole(policy, 'roles/run.invoker', conditional.condition, 'user:a@x.com').bindings).toEqual([{ role: 'roles/run.invoker', members: ['user:a@x.com'] }])
    // Someone else removed the member in between: nothing left to do, nothing thrown.
    expect(revokeRole(policy, 'roles/run.invoker', undefined, 'user:zed@x.com')).toBe(policy)
    // Someone else changed the condition in between: the member still holds the role, under a
    // binding the person did not choose; nothing is removed, and they are told.
    const retitled = { bindings: [{ ...conditional, condition: { title: 't2', expression: 'true' } }] }
    expect(() => revokeRole(retitled, 'roles/run.invoker', conditional.condition, 'user:a@x.com')).toThrow(StaleBindingError)
    expect(() => revokeRole(retitled, 'roles/run.invoker', conditional.condition, 'user:a@x.com')).toThrow(/now holds this role under the condition “t2”/)
    // Held without a condition too: every grant held now is named, not just the first binding found.
    const both = { bindings: [{ role: 'roles/run.invoker', members: ['user:a@x.com'] }, ...retitled.bindings] }
    expect(() => revokeRole(both, 'roles/run.invoker', conditional.condition, 'user:a@x.com')).toThrow(
      /The grant you chose, user:a@x.com under the condition “t”, is no longer there as shown; user:a@x.com now holds this role without a condition and under the condition “t2”/,
    )
  })

  it('keeps apart grants whose conditions differ in their description alone, so each member can be removed', () => {
    const roles = [{ name: 'roles/run.invoker', title: 'Run Invoker', description: '', includedPermissions: [] }]
    const condition = { expression: "request.time < timestamp('2027-01-01T00:00:00Z')", title: 'Until January' }
    const policy = {
      bindings: [
        { role: 'roles/run.invoker', members: ['user:ann@x.com'], condition: { ...condition, description: 'contractor' } },
        { role: 'roles/run.invoker', members: ['user:bob@x.com'], condition: { ...condition, description: 'intern' } },
      ],
    }
    const groups = groupByRole([{ kind: 'service', label: 'service s', policy }], roles)
    expect(groups.map((g) => [g.condition?.description, g.entries.map((e) => e.member)])).toEqual([
      ['contractor', ['user:ann@x.com']],
      ['intern', ['user:bob@x.com']],
    ])
    const bobs = groups.find((g) => g.entries.some((e) => e.member === 'user:bob@x.com'))!
    expect(revokeRole(policy, 'roles/run.invoker', bobs.condition, 'user:bob@x.com').bindings).toEqual([policy.bindings[0]])
  })

  it('groups own and inherited members by role in catalogue order', () => {
    const roles = [
      { name: 'roles/run.invoker', title: 'Run Invoker', description: '', includedPermissions: [] },
      { name: 'roles/owner', title: 'Owner', description: '', includedPermissions: [] },
    ]
    const sources: PolicySource[] = [
      { kind: 'service', label: 'service s', policy: { bindings: [{ role: 'roles/owner', members: ['user:o@x.com'] }] } },
      { kind: 'project', label: 'project p', policy: { bindings: [{ role: 'roles/run.invoker', members: ['user:b@x.com'] }] } },
    ]
    const groups = groupByRole(sources, roles)
    expect(groups.map((g) => g.title)).toEqual(['Run Invoker', 'Owner'])
    expect(groups[0]!.entries).toEqual([{ member: 'user:b@x.com', inheritedFrom: 'project p' }])
    expect(groups[1]!.entries).toEqual([{ member: 'user:o@x.com' }])
  })
})
