import { describe, expect, it } from 'vitest'
import { applyLabelChange, joinRepeated, labelChange, labelPairs, needsCurrentLabels, type LabelFlags } from './label-flags.js'

const current = { team: 'payments', 'cost-center': '42', env: 'prod' }
const after = (o: LabelFlags) => applyLabelChange(current, labelChange(o)!)

describe("services update's label flags, as gcloud run's", () => {
  it('--labels and --update-labels add and change, the other labels staying', () => {
    expect(after({ labels: 'env=dev,owner=ann' })).toEqual({ team: 'payments', 'cost-center': '42', env: 'dev', owner: 'ann' })
    expect(after({ updateLabels: 'env=dev' })).toEqual({ team: 'payments', 'cost-center': '42', env: 'dev' })
  })

  it('--remove-labels removes, ignoring a key the service lacks, after --update-labels', () => {
    expect(after({ removeLabels: 'env,absent' })).toEqual({ team: 'payments', 'cost-center': '42' })
    expect(after({ updateLabels: 'env=dev,owner=ann', removeLabels: 'env' })).toEqual({ team: 'payments', 'cost-center': '42', owner: 'ann' })
  })

  it('--clear-labels removes every label, before --update-labels', () => {
    expect(after({ clearLabels: true })).toEqual({})
    expect(after({ clearLabels: true, updateLabels: 'owner=ann' })).toEqual({ owner: 'ann' })
  })

  it('reads the labels the service has only when the change keeps some of them', () => {
    expect(needsCurrentLabels(labelChange({ updateLabels: 'a=1' }))).toBe(true)
    expect(needsCurrentLabels(labelChange({ removeLabels: 'a' }))).toBe(true)
    expect(needsCurrentLabels(labelChange({ clearLabels: true, updateLabels: 'a=1' }))).toBe(false)
    expect(needsCurrentLabels(labelChange({ description: 'x' } as LabelFlags))).toBe(false)
    expect(labelChange({})).toBeUndefined()
  })

  it.each([
    [{ labels: 'a=1', updateLabels: 'b=2' }, 'Use one of --labels and --update-labels'],
    [{ clearLabels: true, removeLabels: 'a' }, 'Use one of --clear-labels and --remove-labels'],
  ])('refuses gcloud’s exclusive pairs: %o', (flags, why) => {
    expect(() => labelChange(flags)).toThrow(why)
  })

  it('takes a value with = in it and an empty value', () => {
    expect(labelPairs('--labels', 'url=a=b, empty=,team=a')).toEqual({ url: 'a=b', empty: '', team: 'a' })
  })

  it('merges a flag given more than once, as gcloud does', () => {
    expect(after({ updateLabels: ['env=dev', 'owner=ann'].reduce<string | undefined>((p, v) => joinRepeated(v, p), undefined) })).toEqual({ ...current, env: 'dev', owner: 'ann' })
  })

  it.each([
    ['--labels', { labels: 'team' }, "--labels: 'team' is not KEY=VALUE, e.g. --labels=team=payments."],
    ['--update-labels', { updateLabels: '' }, '--update-labels expects KEY=VALUE pairs'],
    ['--update-labels', { updateLabels: 'Team=a' }, "--update-labels: 'Team' is not a label key: lowercase letters, digits, - and _, starting with a letter, at most 63."],
    ['--labels', { labels: '=a' }, "'' is not a label key"],
    ['--labels', { labels: '2fa=on' }, "'2fa' is not a label key"],
    ['--labels', { labels: `${'k'.repeat(64)}=a` }, 'is not a label key'],
    ['--labels', { labels: `k=${'v'.repeat(64)}` }, "--labels: the value of 'k' is 64 characters long; at most 63."],
    ['--remove-labels', { removeLabels: 'cost center' }, "--remove-labels: 'cost center' is not a label key"],
    ['--remove-labels', { removeLabels: ',' }, '--remove-labels expects label keys'],
    ['--update-labels', { updateLabels: 'a=1,a=2' }, "--update-labels: the key 'a' is given twice ('1', '2'); give each key once."],
    ['--labels', { labels: 'team=a,env=x,team=a' }, "--labels: the key 'team' is given twice ('a', 'a')"],
  ])('refuses %s as %o, saying why', (_flag, flags, why) => {
    expect(() => labelChange(flags)).toThrow(why)
  })
})
