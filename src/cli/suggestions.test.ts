import { describe, expect, it } from 'vitest'
import { explainGcloudOnlyOption, suggestForGcloudGroup, suggestOption } from './suggestions.js'

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
  })

  it('leaves out gcloud’s --region and --platform, which Postern has no use for, and says so when they are typed', () => {
    const argv = ['run', 'services', 'proxy', 'hello', '--region', 'us-central1', '--platform=managed', '--project', 'p', '--region=europe-west1']
    expect(suggestForGcloudGroup(argv, ['services'])).toBe('postern services proxy hello --project p')
    expect(explainGcloudOnlyOption('--region=us-central1')).toContain('Postern has no regions')
    expect(explainGcloudOnlyOption('--platform')).toContain('Leave --platform out.')
    expect(explainGcloudOnlyOption('--regions')).toBeUndefined()
    expect(suggestForGcloudGroup(['run', 'services', 'describe', 'constructor', '--format=json'], ['services'])).toBe('postern services describe constructor --format=json')
  })
})
