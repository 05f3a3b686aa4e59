import { describe, expect, it } from 'vitest'
import { parseCount, shapeList } from './list-flags.js'
import { parseFilter } from './list-filter.js'

const services = [
  { name: 'projects/p/services/api-one', uri: 'http://api-one.p.localhost', createTime: '2026-12-01T10:00:00Z', replicas: 9, labels: { team: 'Payments', 'cost-center': '42' }, bindings: [{ role: 'roles/run.invoker', members: ['user:ann@example.com', 'group:devs@example.com'] }] },
  { name: 'projects/p/services/API-two', uri: 'http://api-two.p.localhost', createTime: '2026-12-02T10:00:00Z', replicas: 10, labels: { 'cost-center': '7' }, bindings: [] },
  { name: 'projects/p/services/web', uri: 'http://web.p.localhost', createTime: '2026-11-30T10:00:00Z', replicas: 2, bindings: [{ role: 'roles/run.invoker', members: ['allUsers'] }] },
]
const names = (filter: string) => services.filter(parseFilter(filter)).map((s) => s.name.split('/').at(-1))

describe('--filter, in gcloud’s filter language', () => {
  it('has (:) matches part of a value, ignoring case; with * the whole of it; key:* any value at all', () => {
    expect(names('name:api')).toEqual(['api-one', 'API-two'])
    expect(names('name:*/api-*')).toEqual(['api-one', 'API-two'])
    expect(names('name:api-*')).toEqual([])
    expect(names('labels.team:*')).toEqual(['api-one'])
    expect(names('labels.team:payments')).toEqual(['api-one'])
  })

  it('a key every object answers to (constructor, toString) is no field: only what the item holds matches', () => {
    expect(names('labels.constructor:*')).toEqual([])
    expect(names('labels.toString:*')).toEqual([])
    expect(names('__proto__:*')).toEqual([])
  })

  it('= and != compare whole values, with case; != holds for an item without the field', () => {
    expect(names('labels.team=Payments')).toEqual(['api-one'])
    expect(names('labels.team=payments')).toEqual([])
    expect(names('labels.team!=Payments')).toEqual(['API-two', 'web'])
    expect(names('name=projects/p/services/*')).toHaveLength(3)
  })

  it('a list matches when any item does, and != / !~ when none does', () => {
    expect(names('bindings.members:ann@example.com')).toEqual(['api-one'])
    expect(names('bindings.members=allUsers')).toEqual(['web'])
    expect(names('bindings.members!=allUsers')).toEqual(['api-one', 'API-two'])
    expect(names('bindings.members!~^group:')).toEqual(['API-two', 'web'])
  })

  it('orders numbers as numbers and timestamps as text; ~ takes a regular expression', () => {
    expect(names('replicas>9')).toEqual(['API-two'])
    expect(names('replicas<=9')).toEqual(['api-one', 'web'])
    expect(names('createTime>=2026-12-01')).toEqual(['api-one', 'API-two'])
    expect(names('uri~^http://api-(one|two)\\.')).toEqual(['api-one', 'API-two'])
  })

  it('NOT, -, AND, OR and parentheses, AND binding tighter; terms side by side are ANDed', () => {
    expect(names('NOT name:api')).toEqual(['web'])
    expect(names('-name:api')).toEqual(['web'])
    expect(names('name:api replicas>9')).toEqual(['API-two'])
    expect(names('name:web OR name:api AND replicas>9')).toEqual(['API-two', 'web'])
    expect(names('(name:web OR name:api) AND replicas<10')).toEqual(['api-one', 'web'])
    expect(names('name:(web one)')).toEqual(['api-one', 'web'])
    expect(names('name:(web OR one)')).toEqual(['api-one', 'web'])
  })

  it('a bare word matches any value; quoted values keep their spaces and quotes', () => {
    expect(names('devs@example')).toEqual(['api-one'])
    expect(names('"allusers"')).toEqual(['web'])
    expect(parseFilter('title="a b"')({ title: 'a b' })).toBe(true)
    expect(parseFilter("title='it\\'s'")({ title: "it's" })).toBe(true)
    expect(parseFilter('title = "a b"')({ title: 'a b' })).toBe(true)
  })

  it('a key may hold - (label keys do, as gcloud reads them); - only starts a term as NOT', () => {
    expect(names('labels.cost-center=42')).toEqual(['api-one'])
    expect(names('labels.cost-center:*')).toEqual(['api-one', 'API-two'])
    expect(names('labels.cost-center>9')).toEqual(['api-one'])
    expect(names('-labels.cost-center=42')).toEqual(['API-two', 'web'])
    expect(names('NOT labels.cost-center:* OR labels.cost-center<10')).toEqual(['API-two', 'web'])
    expect(names('api-one')).toEqual(['api-one'])
  })

  it.each([
    ['labels.cost/center=42', "'labels.cost/center' is not a key"],
    ['labels.2fa=true', "'labels.2fa' is not a key"],
    ['name:web labels.cost.=42', "'labels.cost.' is not a key (dotted names of letters, digits, _ and -, e.g. labels.cost-center); to look for the word anywhere, quote it (at character 10)"],
    ['2026-12-01T10:00:00Z', "'2026-12-01T10' is not a key"],
  ])('refuses %s, a comparison whose key is not one, rather than look for it as a word and find nothing', (filter, why) => {
    expect(() => parseFilter(filter)).toThrow(why)
  })

  it('a quoted word holding an operator is a word', () => {
    expect(parseFilter('"a=b"')({ title: 'x a=b y' })).toBe(true)
    expect(parseFilter("'2026-12-01T10:00:00Z'")({ createTime: '2026-12-01T10:00:00Z' })).toBe(true)
  })

  it.each([
    ['name:(web', "a '(' is never closed"],
    ['(name:web', "a '(' is never closed"],
    ['name:web)', "unexpected ')'"],
    ['name:', "a value is missing after ':'"],
    ['title="open', 'a " is never closed'],
    ['NOT', 'a term is missing'],
  ])('refuses %s, saying where', (filter, why) => {
    expect(() => parseFilter(filter)).toThrow(why)
  })

  it('refuses a regular expression that is not one', () => {
    expect(() => parseFilter('name~[')).toThrow("'[' is not a regular expression")
  })
})

describe('--sort-by and --limit', () => {
  const order = (flags: Parameters<typeof shapeList>[1]) => shapeList(services, flags).map((s) => s.name.split('/').at(-1))

  it('sorts by fields in turn, ~ descending, then filters, then cuts', () => {
    expect(order({ sortBy: '~createTime' })).toEqual(['API-two', 'api-one', 'web'])
    expect(order({ sortBy: 'replicas' })).toEqual(['web', 'api-one', 'API-two'])
    expect(order({ sortBy: 'labels.team,~replicas' })).toEqual(['API-two', 'web', 'api-one'])
    expect(order({ sortBy: '~labels.cost-center' })).toEqual(['api-one', 'API-two', 'web'])
    expect(order({ sortBy: '~replicas', filter: 'name:api', limit: '1' })).toEqual(['API-two'])
  })

  it('filters the row as projections see it, and prints the row itself', () => {
    const rows = shapeList(services, { filter: 'metadata.name=web' }, (s) => ({ metadata: { name: s.name.split('/').at(-1) } }))
    expect(rows).toEqual([services[2]])
  })

  it.each([['0'], ['-1'], ['two'], ['1.5']])('refuses --limit=%s', (limit) => {
    expect(() => shapeList(services, { limit })).toThrow(`--limit must be a positive number, not '${limit}'.`)
  })

  it('takes --limit=unlimited, as gcloud', () => {
    expect(order({ limit: 'unlimited' })).toHaveLength(3)
    expect(parseCount('--page-size', 'unlimited')).toBe(Infinity)
    expect(() => parseCount('--page-size', '0')).toThrow("--page-size must be a positive number, not '0'.")
  })

  it('refuses a sort field that is not a field name', () => {
    expect(() => shapeList(services, { sortBy: 'name,' })).not.toThrow()
    expect(() => shapeList(services, { sortBy: 'na me' })).toThrow("'na me' is not a field name")
    expect(() => shapeList(services, { sortBy: '' })).toThrow('is not a field name')
    expect(() => shapeList(services, { sortBy: 'labels.cost/center' })).toThrow("'labels.cost/center' is not a field name")
  })
})
