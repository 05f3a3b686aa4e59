import { describe, expect, it } from 'vitest'
import { suggestForGcloudGroup, suggestOption } from './suggestions.js'

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
  })
})
