import { usageError } from './errors.js'

/**
 * The label flags of `services create|update`, as gcloud run's: `--labels` (on update an alias of
 * `--update-labels`: it adds and changes, the other labels stay), `--update-labels`,
 * `--remove-labels` and `--clear-labels`. Applied in gcloud's order: clear, then update, then
 * remove. All checked before any call; the server's rules for a label, said in the CLI's words.
 */
export interface LabelFlags {
  labels?: string
  updateLabels?: string
  removeLabels?: string
  clearLabels?: boolean
}

export interface LabelChange {
  clear: boolean
  update: Record<string, string>
  remove: string[]
}

// The server's (control/routes/services.ts), which are Google Cloud's for label keys.
const KEY = /^[a-z][a-z0-9_-]{0,62}$/
const MAX_VALUE = 63

/** What the flags ask, or undefined when they ask nothing of the labels. */
export function labelChange(o: LabelFlags): LabelChange | undefined {
  if (o.labels !== undefined && o.updateLabels !== undefined) throw usageError('Use one of --labels and --update-labels: --labels is its alias.')
  if (o.clearLabels && o.removeLabels !== undefined) throw usageError('Use one of --clear-labels and --remove-labels.')
  const add = o.labels !== undefined ? labelPairs('--labels', o.labels) : o.updateLabels !== undefined ? labelPairs('--update-labels', o.updateLabels) : undefined
  const remove = o.removeLabels === undefined ? undefined : labelKeys('--remove-labels', o.removeLabels)
  if (add === undefined && remove === undefined && !o.clearLabels) return undefined
  return { clear: Boolean(o.clearLabels), update: add ?? {}, remove: remove ?? [] }
}

/** Whether the change needs the labels the service has now (all but a clear, with or without an update). */
export function needsCurrentLabels(change: LabelChange | undefined): boolean {
  return change !== undefined && !change.clear
}

/** The labels after the change: cleared first, then updated, then removed, as gcloud applies them. */
export function applyLabelChange(current: Readonly<Record<string, string>>, change: LabelChange): Record<string, string> {
  const labels: Record<string, string> = change.clear ? {} : { ...current }
  Object.assign(labels, change.update)
  for (const key of change.remove) delete labels[key]
  return labels
}

/**
 * Commander's argParser for a label flag given more than once (`--update-labels=a=1
 * --update-labels=b=2`): one list, as gcloud's UpdateAction merges them; commander alone keeps the
 * last and drops the others without a word.
 */
export const joinRepeated = (value: string, previous: string | undefined): string => (previous === undefined ? value : `${previous},${value}`)

/**
 * `KEY=VALUE,…`: a value may be empty or hold `=`. A key given twice is refused, naming it: gcloud
 * refuses one repeated across flags (UpdateAction: "cannot be specified multiple times") though
 * its ArgDict keeps the last within one; keeping either value would set one the user did not see set.
 */
export function labelPairs(flag: string, text: string): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const pair of items(flag, text, 'KEY=VALUE pairs, e.g. team=payments,cost-center=42')) {
    const at = pair.indexOf('=')
    if (at < 0) throw usageError(`${flag}: '${pair}' is not KEY=VALUE, e.g. ${flag}=team=payments.`)
    const [key, value] = [pair.slice(0, at), pair.slice(at + 1)]
    checkKey(flag, key)
    if (value.length > MAX_VALUE) throw usageError(`${flag}: the value of '${key}' is ${value.length} characters long; at most ${MAX_VALUE}.`)
    if (Object.hasOwn(labels, key)) throw usageError(`${flag}: the key '${key}' is given twice ('${labels[key]}', '${value}'); give each key once.`)
    labels[key] = value
  }
  return labels
}

function labelKeys(flag: string, text: string): string[] {
  const keys = items(flag, text, 'label keys, e.g. team,cost-center')
  for (const key of keys) checkKey(flag, key)
  return keys
}

function items(flag: string, text: string, what: string): string[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean)
  if (list.length === 0) throw usageError(`${flag} expects ${what}.`)
  return list
}

function checkKey(flag: string, key: string): void {
  if (!KEY.test(key)) throw usageError(`${flag}: '${key}' is not a label key: lowercase letters, digits, - and _, starting with a letter, at most 63.`)
}
