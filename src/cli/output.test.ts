import { describe, expect, it } from 'vitest'
import { formatList, formatResource, parseFormat, pick } from './output.js'
import { parseAllDocuments } from 'yaml'

const policy = { version: 1, etag: 'Bw1', bindings: [{ role: 'roles/run.invoker', members: ['user:a@x.com', 'user:b@x.com'] }, { role: 'roles/run.viewer', members: ['group:g@x.com'] }] }
const services = [
  { name: 'projects/p/services/hello', uri: 'http://hello.p.localhost:7080', labels: { team: 'a', env: 'dev' } },
  { name: 'projects/p/services/api', uri: 'http://api.p.localhost:7080' },
]
const columns = [{ header: 'NAME', value: (s: { name: string }) => s.name.split('/').at(-1)! }, { header: 'URL', value: (s: { uri: string }) => s.uri }]

describe('--format', () => {
  it('accepts what gcloud users type, and refuses the rest with the forms it takes', () => {
    expect(parseFormat("value(uri)", 'yaml')).toBe('value(uri)')
    expect(parseFormat('value( uri , name )', 'yaml')).toBe('value(uri,name)')
    expect(parseFormat(undefined, 'table')).toBe('table')
    expect(() => parseFormat('text', 'yaml')).toThrow(/--format must be yaml, json, table, none, or the fields to print as value\(FIELD,…\)/)
    expect(() => parseFormat('value()', 'yaml')).toThrow(/is not a field name/)
    expect(() => parseFormat('value(uri;rm -rf)', 'yaml')).toThrow(/is not a field name/)
    expect(parseFormat('value(labels.cost-center)', 'yaml')).toBe('value(labels.cost-center)')
    expect(() => parseFormat('value(labels.cost/center)', 'yaml')).toThrow(/'labels.cost\/center' is not a field name/)
  })

  it("none, and gcloud's disable, print nothing", () => {
    expect(parseFormat('none', 'yaml')).toBe('none')
    expect(parseFormat('disable', 'yaml')).toBe('none')
    expect(formatResource(policy, 'none')).toBe('')
    expect(formatList(services, columns, 'none')).toBe('')
  })

  it('value() prints fields tab-separated, one row per resource, list items joined by ;', () => {
    expect(formatResource(policy, 'value(bindings.members)')).toBe('user:a@x.com;user:b@x.com;group:g@x.com\n')
    expect(formatResource(policy, 'value(etag,bindings.role)')).toBe('Bw1\troles/run.invoker;roles/run.viewer\n')
    expect(formatResource(policy, 'value(bindings[1].role)')).toBe('roles/run.viewer\n')
    expect(formatList(services, columns, 'value(uri)')).toBe('http://hello.p.localhost:7080\nhttp://api.p.localhost:7080\n')
    expect(formatList(services, columns, 'value(name,labels,missing)')).toBe('projects/p/services/hello\tteam=a;env=dev\t\nprojects/p/services/api\t\t\n')
    expect(formatResource({ labels: { 'cost-center': '42' } }, 'value(labels.cost-center)')).toBe('42\n')
    expect(formatList([{ labels: { 'cost-center': '42' } }], [], 'table(labels.cost-center)', { tty: false })).toBe('COST-CENTER\n42\n')
  })

  it('table is honoured for lists, and refused for one resource rather than printed as YAML', () => {
    expect(formatList(services, columns, 'table', { tty: true })).toBe('NAME   URL\nhello  http://hello.p.localhost:7080\napi    http://api.p.localhost:7080\n')
    expect(formatList(services, columns, 'table', { tty: false })).toBe('NAME\tURL\nhello\thttp://hello.p.localhost:7080\napi\thttp://api.p.localhost:7080\n')
    expect(formatList(services, columns, 'table(name,uri)', { tty: true })).toMatch(/^NAME +URI\nprojects\/p\/services\/hello +http:/)
    expect(() => formatResource(policy, 'table')).toThrow(/--format=table lists many resources/)
  })

  it("table() headings are gcloud's: the last name of each field in ANGRY_SNAKE_CASE, longer only where two would be alike", () => {
    const rows = [{ metadata: { name: 'hello' }, spec: { name: 'x' }, status: { url: 'u', lastTransitionTime: 't', networkIP: 'n' } }]
    const heading = (format: `table(${string})`) => formatList(rows, [], format, { tty: false }).split('\n')[0]
    expect(heading('table(metadata.name,status.url)')).toBe('NAME\tURL')
    expect(heading('table(status.lastTransitionTime,status.networkIP)')).toBe('LAST_TRANSITION_TIME\tNETWORK_IP')
    expect(heading('table(metadata.name,spec.name)')).toBe('NAME\tSPEC_NAME')
    expect(heading('table(bindings[0].role)')).toBe('ROLE')
  })
  it('projections see the resource as `projected` makes it; JSON and YAML never do', () => {
    const extra = (s: (typeof services)[number]) => ({ ...s, status: { url: s.uri } })
    expect(formatResource(services[0]!, 'value(status.url)', extra)).toBe('http://hello.p.localhost:7080\n')
    expect(formatList(services, columns, 'value(status.url)', { projected: extra })).toBe('http://hello.p.localhost:7080\nhttp://api.p.localhost:7080\n')
    expect(formatResource(services[0]!, 'json', extra)).not.toContain('status')
    expect(formatList(services, columns, 'yaml', { projected: extra })).not.toContain('status')
  })
  it('YAML escapes C1 control characters (U+009B is a CSI to some terminals) and still reads back as the data', () => {
    const value = { description: 'a\u009b31mred\u0085', ['k\u0090']: 'line\nbreak\u009d' }
    for (const out of [formatResource(value, 'yaml'), formatList([value], columns as never, 'yaml')]) {
      expect(out).not.toMatch(/[\u0080-\u009f]/)
      expect(out).toContain('\\x9b')
      expect(parseAllDocuments(out).map((d) => d.toJS())).toEqual([value])
    }
  })

  it("takes gcloud's csv(…), json(…) and yaml(…) projections and [no-heading] on csv and table; refuses other attributes and a bare csv", () => {
    expect(parseFormat('csv( name , uri )', 'yaml')).toBe('csv(name,uri)')
    expect(parseFormat('csv[no-heading](uri)', 'yaml')).toBe('csv[no-heading](uri)')
    expect(parseFormat('table[no-heading](uri)', 'yaml')).toBe('table[no-heading](uri)')
    expect(parseFormat('json(metadata.name)', 'yaml')).toBe('json(metadata.name)')
    expect(parseFormat('yaml(bindings.role)', 'yaml')).toBe('yaml(bindings.role)')
    expect(() => parseFormat('value[no-heading](uri)', 'yaml')).toThrow(/only \[no-heading\] is taken, on csv and table/)
    expect(() => parseFormat('csv[delimiter=";"](uri)', 'yaml')).toThrow(/only \[no-heading\] is taken/)
    expect(() => parseFormat('csv', 'yaml')).toThrow(/--format=csv needs the fields to print/)
    expect(() => parseFormat('get(uri)', 'yaml')).toThrow(/--format must be yaml, json, table, none, or the fields to print as value\(FIELD,…\), table\(FIELD,…\), csv\(FIELD,…\)/)
    expect(() => parseFormat('json(uri;x)', 'yaml')).toThrow(/is not a field name/)
  })

  it('csv(…) prints a lower-case heading of the fields and one RFC 4180 record per resource; [no-heading] leaves the heading out', () => {
    expect(formatList(services, columns, 'csv(name,uri,labels)')).toBe('name,uri,labels\nprojects/p/services/hello,http://hello.p.localhost:7080,team=a;env=dev\nprojects/p/services/api,http://api.p.localhost:7080,\n')
    expect(formatList(services, columns, 'csv[no-heading](uri)')).toBe('http://hello.p.localhost:7080\nhttp://api.p.localhost:7080\n')
    expect(formatResource(policy, 'csv(etag,bindings.role)')).toBe('etag,role\nBw1,roles/run.invoker;roles/run.viewer\n')
    expect(formatResource({ networkIP: 'say "hi", then\nleave' }, 'csv(networkIP)')).toBe('network_ip\n"say ""hi"", then leave"\n')
    expect(formatList([], [], 'csv(uri)')).toBe('')
    expect(formatList(services, columns, 'table[no-heading](uri)', { tty: false })).toBe('http://hello.p.localhost:7080\nhttp://api.p.localhost:7080\n')
  })

  it('json(…) and yaml(…) print the resource with only those fields, where they are in it', () => {
    expect(pick({ metadata: { name: 'a', uid: 'u' }, spec: {} }, ['metadata.name'])).toEqual({ metadata: { name: 'a' } })
    expect(pick(policy, ['etag', 'bindings.role'])).toEqual({ etag: 'Bw1', bindings: [{ role: 'roles/run.invoker' }, { role: 'roles/run.viewer' }] })
    expect(pick(policy, ['bindings.role', 'bindings.members'])).toEqual({ bindings: policy.bindings })
    expect(pick(policy, ['bindings[1].role'])).toEqual({ bindings: [{ role: 'roles/run.viewer' }] })
    expect(pick(policy, ['nosuch', 'bindings[7].role'])).toEqual({})
    expect(JSON.parse(formatResource(policy, 'json(version)'))).toEqual({ version: 1 })
    expect(JSON.parse(formatList(services, columns, 'json(uri)'))).toEqual([{ uri: 'http://hello.p.localhost:7080' }, { uri: 'http://api.p.localhost:7080' }])
    expect(formatList([], [], 'json(uri)')).toBe('[]\n')
    expect(formatList(services, columns, 'yaml(labels.team)')).toBe('---\nlabels:\n  team: a\n---\n{}\n')
    expect(formatResource(services[0]!, 'yaml(uri)')).toBe('uri: http://hello.p.localhost:7080\n')
    // Projected fields (Cloud Run's names) are seen too, as value(…) sees them.
    expect(JSON.parse(formatResource(services[0]!, 'json(status.url)', (s) => ({ ...s, status: { url: s.uri } })))).toEqual({ status: { url: 'http://hello.p.localhost:7080' } })
  })
})
