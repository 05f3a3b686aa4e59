import { describe, expect, it } from 'vitest'
import { formatDuration } from '../core/format-duration.js'
import { checkDuration, grantCondition, parseWireDuration, withGrant, withoutGrant } from './access-grants.js'
import { compileCondition } from './conditions.js'
import type { PolicyBody } from './policy.js'

describe('access grants', () => {
  const base: PolicyBody = { version: 1, bindings: [{ role: 'roles/run.invoker', members: ['user:ann@example.com'] }] }

  it('writes a binding that ends at the expiry and names the request; removing it leaves the rest alone', () => {
    const end = Date.parse('2026-12-01T10:00:00.000Z')
    const condition = grantCondition('k3v7q2m4xa', end, 'user:boss@example.com', 'debugging\nincident 4711')
    expect(condition).toEqual({
      title: 'Access request k3v7q2m4xa',
      description: 'Approved by user:boss@example.com: debugging incident 4711',
      expression: "request.time < timestamp('2026-12-01T10:00:00.000Z')",
    })
    const check = compileCondition(condition.expression)
    const resource = { name: 'projects/p/services/s', type: 'run.postern/Service' as const }
    expect(check({ now: end - 1, resource })).toBe(true)
    expect(check({ now: end, resource })).toBe(false)
    const granted = withGrant(base, 'user:dev@example.com', 'roles/run.invoker', condition)
    expect(granted.version).toBe(3)
    expect(granted.bindings).toHaveLength(2)
    const other = withGrant(granted, 'user:eve@example.com', 'roles/run.invoker', grantCondition('aaaaaaaaaa', end, 'user:boss@example.com', 'x'))
    expect(withoutGrant(other, 'k3v7q2m4xa').bindings.map((b) => b.condition?.title ?? '')).toEqual(['', 'Access request aaaaaaaaaa'])
    expect(withoutGrant(granted, 'k3v7q2m4xa')).toEqual(base)
  })

  it('keeps a long reason within the description limit', () => {
    expect(grantCondition('k3v7q2m4xa', 0, 'user:a@example.com', 'x'.repeat(600)).description!.length).toBe(256)
  })

  it('checks durations against the minimum and the service limit, naming the limit and how to change it', () => {
    expect(() => checkDuration(3600, 8 * 3600, 'projects/p/services/s')).not.toThrow()
    expect(() => checkDuration(30, 8 * 3600, 'projects/p/services/s')).toThrow('shorter than the minimum of 1m')
    expect(() => checkDuration(9 * 3600, 8 * 3600, 'projects/my-project/services/api')).toThrow(
      'The requested duration (9h) exceeds the maximum of 8h for projects/my-project/services/api; ask for at most 8h, or an admin can raise the limit with: postern services update api --project=my-project --max-access-request-duration=DURATION',
    )
  })

  it('reads wire durations strictly', () => {
    expect(parseWireDuration('7200s', 'duration')).toBe(7200)
    for (const bad of ['2h', '-5s', '1.5s', '', 's', 7200, null, '9999999999s']) expect(() => parseWireDuration(bad, 'duration')).toThrow(/duration: expected a duration/)
    expect(formatDuration(5400)).toBe('1h30m')
    expect(formatDuration(90_061)).toBe('1d1h1m1s')
    expect(formatDuration(0)).toBe('0s')
  })
})
