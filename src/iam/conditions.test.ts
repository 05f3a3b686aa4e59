import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PosternError } from '../core/errors.js'
import { compileCondition, evaluateCondition, parseCondition, type ConditionContext, type ResourceType } from './conditions.js'
import { invalidMessage } from '../../test/support/refusals.js'

const DEADLINE = "request.time < timestamp('2026-12-01T00:00:00Z')"
const at = (iso: string, name = 'projects/p1-abc/services/hello', type: ResourceType = 'run.postern/Service'): ConditionContext => ({
  now: Date.parse(iso),
  resource: { name, type },
})


describe('evaluating CEL over request.time, resource.name and resource.type', () => {
  it('a deadline is true before and false from the deadline on', () => {
    expect(evaluateCondition(DEADLINE, at('2026-11-30T23:59:59.999Z'))).toBe(true)
    expect(evaluateCondition(DEADLINE, at('2026-12-01T00:00:00Z'))).toBe(false)
    expect(evaluateCondition(DEADLINE, at('2027-01-01T00:00:00Z'))).toBe(false)
  })

  it('a time window', () => {
    const window = "request.time >= timestamp('2026-01-01T00:00:00Z') && request.time < timestamp('2026-02-01T00:00:00Z')"
    expect(evaluateCondition(window, at('2025-12-31T23:59:59Z'))).toBe(false)
    expect(evaluateCondition(window, at('2026-01-15T00:00:00Z'))).toBe(true)
    expect(evaluateCondition(window, at('2026-02-01T00:00:00Z'))).toBe(false)
  })

  it('the hour of day, in UTC and in a named zone', () => {
    const hours = 'request.time.getHours() >= 9 && request.time.getHours() < 17'
    expect(evaluateCondition(hours, at('2026-03-02T10:00:00Z'))).toBe(true)
    expect(evaluateCondition(hours, at('2026-03-02T20:00:00Z'))).toBe(false)
    expect(evaluateCondition("request.time.getHours('Europe/Berlin') == 11", at('2026-03-02T10:00:00Z'))).toBe(true)
  })

  it('resource.name and resource.type', () => {
    expect(evaluateCondition("resource.name.startsWith('projects/p1-abc/services/')", at('2026-01-01T00:00:00Z'))).toBe(true)
    expect(evaluateCondition("resource.name == 'projects/p1-abc/services/other'", at('2026-01-01T00:00:00Z'))).toBe(false)
    expect(evaluateCondition("resource.type == 'run.postern/Service'", at('2026-01-01T00:00:00Z'))).toBe(true)
    const project = at('2026-01-01T00:00:00Z', 'projects/p1-abc', 'postern.project/Project')
    expect(evaluateCondition("resource.type == 'run.postern/Service'", project)).toBe(false)
    expect(evaluateCondition("resource.name.endsWith('/hello')", at('2026-01-01T00:00:00Z'))).toBe(true)
  })

  it('a runtime error is reported as error, never as true', () => {
    const ctx = at('2026-01-01T00:00:00Z')
    for (const expression of ['int(resource.name) == 1', 'request.time > timestamp(resource.name)', '1 / 0 == 1', '[1, 2][5] == 1', "{'a': 1}['b'] == 1"]) {
      expect(() => parseCondition({ title: 't', expression }), expression).not.toThrow()
      expect(evaluateCondition(expression, ctx), expression).toBe('error')
    }
  })

  it('CEL error absorption: an error on one side of || or && can still decide', () => {
    const ctx = at('2026-01-01T00:00:00Z')
    expect(evaluateCondition('int(resource.name) == 1 || true', ctx)).toBe(true)
    expect(evaluateCondition('int(resource.name) == 1 && false', ctx)).toBe(false)
    expect(evaluateCondition('int(resource.name) == 1 && true', ctx)).toBe('error')
  })

  it('a stored expression that no longer compiles is an error, not an exception', () => {
    expect(evaluateCondition('request.time <', at('2026-01-01T00:00:00Z'))).toBe('error')
    expect(evaluateCondition('1 + 1', at('2026-01-01T00:00:00Z'))).toBe('error')
  })

  it('compileCondition caches by expression', () => {
    expect(compileCondition(DEADLINE)).toBe(compileCondition(DEADLINE))
  })
})

describe('parseCondition rejects at write time', () => {
  it.each([
    ['request.time < ', /does not parse/],
    ['request.time <<< 1', /does not parse/],
    ["timestamp('2026-01-01T00:00:00Z'", /does not parse/],
    ['"unterminated', /does not parse/],
    ['1 + 1', /must be a bool, not int/],
    ["resource.name + 'x'", /must be a bool, not string/],
    ['request.time', /must be a bool/],
    ["resource.name == 1", /not valid/],
    ['request.time < 5', /not valid/],
    ['request.foo == 1', /not valid/],
    ['foo == 1', /not valid.*foo/],
    ['unknownFunction(resource.name)', /not valid/],
    ['resource.name.size() > "a"', /not valid/],
    // A literal that can never convert would fail at every request: its binding would grant nothing.
    ["request.time > timestamp('not a time')", /timestamp\('not a time'\) can never be converted.*timestamp\('2027-01-01T00:00:00Z'\)/],
    ["request.time < timestamp('2026-12-01')", /can never be converted/],
    ["request.time < timestamp('2026-12-01T00:00:00Z') + duration('1 day')", /duration\('1 day'\) can never be converted.*duration\('3600s'\)/],
  ])('%j', (expression, message) => {
    expect(invalidMessage(() => parseCondition({ title: 'bad', expression }))).toMatch(message)
  })

  it('checks the shape and the limits of the condition object', () => {
    const ok = { title: 'until December', expression: DEADLINE }
    expect(parseCondition(ok)).toEqual(ok)
    expect(parseCondition({ ...ok, description: 'temporary' })).toEqual({ ...ok, description: 'temporary' })
    expect(parseCondition({ ...ok, description: '' })).toEqual(ok)
    expect(invalidMessage(() => parseCondition(null))).toMatch(/must be an object/)
    expect(invalidMessage(() => parseCondition('request.time < now'))).toMatch(/must be an object/)
    expect(invalidMessage(() => parseCondition([ok]))).toMatch(/must be an object/)
    expect(invalidMessage(() => parseCondition({ ...ok, location: 'x' }))).toMatch(/Unknown condition field 'location'/)
    expect(invalidMessage(() => parseCondition({ title: 't' }))).toMatch(/non-empty expression/)
    expect(invalidMessage(() => parseCondition({ title: 't', expression: '  ' }))).toMatch(/non-empty expression/)
    expect(invalidMessage(() => parseCondition({ title: 't', expression: 1 }))).toMatch(/non-empty expression/)
    expect(invalidMessage(() => parseCondition({ expression: DEADLINE }))).toMatch(/non-empty title/)
    expect(invalidMessage(() => parseCondition({ title: ' ', expression: DEADLINE }))).toMatch(/non-empty title/)
    expect(invalidMessage(() => parseCondition({ ...ok, description: 5 }))).toMatch(/description must be a string/)
    expect(invalidMessage(() => parseCondition({ ...ok, title: 't'.repeat(101) }))).toMatch(/title may have at most 100/)
    expect(invalidMessage(() => parseCondition({ ...ok, description: 'd'.repeat(257) }))).toMatch(/description may have at most 256/)
    expect(invalidMessage(() => parseCondition({ ...ok, expression: `${DEADLINE} || ${'true || '.repeat(1_600)}true` }))).toMatch(/at most 12800/)
  })

  it('deeply nested or huge expressions are refused, not evaluated', () => {
    expect(invalidMessage(() => parseCondition({ title: 't', expression: '('.repeat(200) + 'true' + ')'.repeat(200) }))).toBeTruthy()
    expect(invalidMessage(() => parseCondition({ title: 't', expression: Array(3_000).fill('true').join(' && ') }))).toBeTruthy()
  })

  it('only INVALID_ARGUMENT escapes, for arbitrary and for near-valid expressions (property)', () => {
    const tokens = fc.constantFrom('request.time', 'resource.name', 'resource.type', "timestamp('2026-01-01T00:00:00Z')", "'x'", '1', 'true', '<', '==', '&&', '||', '!', '(', ')', '.', 'startsWith(', 'size()', ',', '[', ']', '{', '}', ':', '?', 'dyn(', 'has(', '"')
    const nearValid = fc.array(tokens, { maxLength: 12 }).map((t) => t.join(' '))
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), nearValid), (expression) => {
        try {
          parseCondition({ title: 't', expression })
        } catch (err) {
          return err instanceof PosternError && err.status === 'INVALID_ARGUMENT'
        }
        const result = evaluateCondition(expression, at('2026-06-01T00:00:00Z'))
        return result === true || result === false || result === 'error'
      }),
      { numRuns: 1_000 },
    )
  })
})

describe('regular expressions in conditions are RE2, matched in linear time', () => {
  const service = (name: string) => at('2026-01-01T00:00:00Z', `projects/my-project/services/${name}`)

  it('matches() has RE2 semantics: \\z is the end of the text, (?i) folds case', () => {
    expect(evaluateCondition("resource.name.matches(r'hello\\z')", service('hello'))).toBe(true)
    expect(evaluateCondition("resource.name.matches(r'hello\\z')", service('hello-z'))).toBe(false)
    expect(evaluateCondition("resource.name.matches('(?i)/SERVICES/HELLO$')", service('hello'))).toBe(true)
    expect(evaluateCondition("resource.name.matches('^projects/[a-z-]+/services/(api|web)-')", service('api-orders'))).toBe(true)
    expect(evaluateCondition("resource.name.matches('^projects/[a-z-]+/services/(api|web)-')", service('billing'))).toBe(false)
  })

  it('a pattern that backtracks exponentially in V8 decides at once on a long resource name', () => {
    // V8 backtracks over this name for hours; RE2 is linear. First a check that matches() is
    // RE2 (\z is the end of the text in RE2, a plain 'z' in V8), so that on a backtracking engine
    // this test fails at once instead of hanging. The time bound is loose on purpose: the
    // benchmark, not this test, measures speed.
    expect(evaluateCondition("resource.name.matches(r'hello\\z')", service('hello'))).toBe(true)
    const expression = "resource.name.matches('^([a-z/-]+)+!$')"
    expect(parseCondition({ title: 'redos', expression })).toBeTruthy()
    const started = performance.now()
    expect(evaluateCondition(expression, service('a'.repeat(49)))).toBe(false)
    expect(performance.now() - started).toBeLessThan(100)
  })

  it.each([
    ["resource.name.matches('(a)\\\\1')", /not RE2 syntax.*backreferences or lookaround/],
    ["resource.name.matches('hello(?=x)')", /not RE2 syntax/],
    ["resource.name.matches('(?<!x)hello')", /not RE2 syntax/],
    ["resource.name.matches('[')", /not RE2 syntax/],
    ['resource.name.matches(resource.service)', /pattern of matches\(\) must be a string literal/],
    ["resource.name.matches('a' + 'b')", /must be a string literal/],
    ["request.time.matches('x')", /no matching overload for 'google.protobuf.Timestamp.matches\(string\)'/],
    [`resource.name.matches('${'a'.repeat(513)}')`, /at most 512 characters/],
    ["resource.name.matches('[a-z]{600}[a-z]{600}')", /too costly \(RE2 program size 1202/],
    [Array(11).fill("resource.name.matches('x')").join(' || '), /at most 10 calls of matches\(\)/],
    ["['a', 'b'].exists(x, ['c'].exists(y, x == y))", /may not be nested/],
    ["['a'].all(x, ['b'].map(y, y + x).size() > 0)", /may not be nested/],
    ["cel.bind(x, ['a', 'b'], x.size() > 0)", /cel.bind is not allowed/],
  ])('refuses %# when the policy is written', (expression, message) => {
    expect(invalidMessage(() => parseCondition({ title: 't', expression }))).toMatch(message)
  })

  it('accepts what stays cheap: one level of comprehension, matches() inside it, ten calls', () => {
    const ok = [
      "['api-', 'web-'].exists(p, resource.service.startsWith(p))",
      "['api', 'web'].map(p, 'projects/my-project/services/' + p).exists(n, n == resource.name)",
      "['^api-', '^web-'].exists(p, resource.service.matches('^(api|web)-'))",
      Array(10).fill("resource.name.matches('x')").join(' || '),
    ]
    for (const expression of ok) expect(() => parseCondition({ title: 't', expression }), expression).not.toThrow()
    expect(evaluateCondition(ok[0]!, service('web-shop'))).toBe(true)
    expect(evaluateCondition(ok[1]!, service('web'))).toBe(true)
    expect(evaluateCondition(ok[2]!, service('billing'))).toBe(false)
  })
})
