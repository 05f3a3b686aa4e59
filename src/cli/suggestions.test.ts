import { describe, expect, it } from 'vitest'
import { explainGcloudOnlyCommand, explainGcloudOnlyOption, explainGcloudOnlyProperty, insteadOfGcloudOption, suggestForGcloudGroup, suggestForPropertyEquals, suggestOption } from './suggestions.js'

describe('suggestions', () => {
  it('finds a flag that holds the one typed', () => {
    const flags = ['--upstream', '--add-custom-audiences', '--custom-audiences', '--strict-audience'].map((long) => ({ long, takesValue: long !== '--strict-audience' }))
    expect(suggestOption('--audiences', flags)).toBe('--custom-audiences')
    expect(suggestOption('--audience=https://x', flags)).toBe('--custom-audiences')
    expect(suggestOption('--audience', flags)).toBe('--strict-audience')
    expect(suggestOption('--foo', flags)).toBeUndefined()
  })

  it('turns gcloud run services into postern services', () => {
    expect(suggestForGcloudGroup(['run', 'services', 'list'], ['services'])).toBe('postern services list')
    expect(suggestForGcloudGroup(['run', 'services', 'describe', 'hello', '--format=value(uri)'], ['services'])).toBe("postern services describe hello '--format=value(uri)'")
    expect(suggestForGcloudGroup(['run', 'deploy'], ['services'])).toBeUndefined()
    expect(suggestForGcloudGroup(['run', 'services', 'list'], ['services'], ['--project', 'p', '--format=value(uri)'])).toBe("postern --project p '--format=value(uri)' services list")
    // gcloud's release tracks, with run or without.
    expect(suggestForGcloudGroup(['beta', 'run', 'services', 'proxy', 'hello'], ['services'])).toBe('postern services proxy hello')
    expect(suggestForGcloudGroup(['alpha', 'services', 'list'], ['services'])).toBe('postern services list')
    expect(suggestForGcloudGroup(['services', 'list'], ['services'])).toBeUndefined()
    expect(suggestForGcloudGroup(['beta', 'deploy'], ['services'])).toBeUndefined()
  })

  it('says what gcloud init comes to here', () => {
    expect(explainGcloudOnlyCommand(['init'])).toMatch(/postern config set server URL\n {2}postern auth login\n {2}postern config set project PROJECT_ID$/)
  })

  it('leaves out gcloud’s --region and --platform, which Postern has no use for, and says so when they are typed', () => {
    const argv = ['run', 'services', 'proxy', 'hello', '--region', 'us-central1', '--platform=managed', '--project', 'p', '--region=europe-west1']
    expect(suggestForGcloudGroup(argv, ['services'])).toBe('postern services proxy hello --project p')
    expect(explainGcloudOnlyOption('--region=us-central1')).toContain('Postern has no regions')
    expect(explainGcloudOnlyOption('--platform')).toContain('Leave --platform out.')
    expect(explainGcloudOnlyOption('--regions')).toBeUndefined()
    expect(explainGcloudOnlyOption('--workforce-pool-user-project=my-project')).toContain('Leave --workforce-pool-user-project out.')
    expect(suggestForGcloudGroup(['run', 'services', 'describe', 'constructor', '--format=json'], ['services'])).toBe('postern services describe constructor --format=json')
  })

  it('splits config set’s property=value into the two words it takes, and leaves every other line alone', () => {
    expect(suggestForPropertyEquals(['config', 'set', 'project=my-project'])).toBe('postern config set project my-project')
    expect(suggestForPropertyEquals(['config', 'set', 'core/account=ann@example.com', '--quiet'], ['--configuration=work'])).toBe('postern --configuration=work config set core/account ann@example.com --quiet')
    expect(suggestForPropertyEquals(['config', 'set', 'server=http://x:7070/a b'])).toBe("postern config set server 'http://x:7070/a b'")
    expect(suggestForPropertyEquals(['config', 'set', 'project', 'a=b'])).toBeUndefined()
    expect(suggestForPropertyEquals(['config', 'set', '=x'])).toBeUndefined()
    expect(suggestForPropertyEquals(['config', 'set', 'project'])).toBeUndefined()
    expect(suggestForPropertyEquals(['config', 'get', 'project=x'])).toBeUndefined()
    expect(suggestForPropertyEquals(['services', 'set', 'project=x'])).toBeUndefined()
  })

  it('says how to use another account for gcloud’s --account, with the email typed', () => {
    expect(insteadOfGcloudOption('--account=ann@example.com')).toContain('postern config set account ann@example.com;')
    expect(insteadOfGcloudOption('--account')).toContain('postern config set account EMAIL;')
    expect(insteadOfGcloudOption('--account=')).toContain('postern config set account EMAIL;')
    expect(insteadOfGcloudOption("--account=a b'\u001b")).toContain("postern config set account 'a b'\\''?';")
    expect(insteadOfGcloudOption('--accounts=x')).toBeUndefined()
    expect(insteadOfGcloudOption('--region')).toBeUndefined()
    // Kept in a `postern run …` suggestion: it changes what the command does.
    expect(suggestForGcloudGroup(['run', 'services', 'list', '--account=ann@example.com'], ['services'])).toBe('postern services list --account=ann@example.com')
  })

  it('says what to do instead of gcloud’s run deploy and auth application-default, and nothing for other commands', () => {
    const deploy = explainGcloudOnlyCommand(['run', 'deploy', 'hello', '--image=gcr.io/x/y', '--allow-unauthenticated'], ['--project', 'p'])
    expect(deploy).toContain('\n  postern --project p services create hello --upstream=URL\n')
    expect(deploy).toContain('\n  postern --project p services add-iam-policy-binding hello --member=allUsers --role=roles/run.invoker')
    const quiet = explainGcloudOnlyCommand(['run', 'deploy', '--source', '.'])
    expect(quiet).toContain('postern services create SERVICE --upstream=URL')
    expect(quiet).not.toContain('allUsers')
    expect(explainGcloudOnlyCommand(['auth', 'application-default', 'login'])).toContain('postern metadata-server')
    expect(explainGcloudOnlyCommand(['auth', 'login'])).toBeUndefined()
    expect(explainGcloudOnlyCommand(['run', 'services', 'list'])).toBeUndefined()
    expect(explainGcloudOnlyCommand([])).toBeUndefined()
  })
})

describe('explainGcloudOnlyProperty', () => {
  it('says why Postern keeps no region, zone or platform, and nothing for other names', () => {
    for (const name of ['run/region', 'compute/region', 'Compute/Region']) expect(explainGcloudOnlyProperty(name)).toContain('Postern has no regions')
    expect(explainGcloudOnlyProperty('compute/zone')).toContain('Postern has no zones')
    expect(explainGcloudOnlyProperty('run/platform')).toContain('one platform')
    expect(explainGcloudOnlyProperty('foo')).toBeUndefined()
  })
})
