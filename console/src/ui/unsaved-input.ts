import { useEffect, useRef, useState, type RefObject } from 'react'
import { guardLeaving } from './router.tsx'

const QUESTION = 'Leave this page? What you typed in the open dialog has not been saved.'
/** Set when the console itself starts the page afresh: asking then would keep a draft it means to drop. */
let discarding = false

/**
 * Reloads the page without asking, dropping any unsaved input: when another person signed in
 * in this browser, the page becomes theirs and must not keep the last person's draft.
 */
export function reloadDiscardingInput(): void {
  discarding = true
  window.location.reload()
}

/**
 * Whether a dialog's form holds input its person typed and has not saved: then reloading, going
 * Back or closing the tab asks first (beforeunload; the router asks for a Back within the
 * console, which no beforeunload sees). A dialog only opened, or typed back to how it opened,
 * asks nothing. Pass the returned handler as the form's onChange: it sees every field's input.
 */
export function useUnsavedInputWarning(form: RefObject<HTMLFormElement | null>): () => void {
  const opened = useRef<string>(undefined)
  const [unsaved, setUnsaved] = useState(false)
  useEffect(() => {
    if (form.current) opened.current = fieldValues(form.current)
  }, [form])
  useEffect(() => {
    if (!unsaved) return
    const ask = (e: BeforeUnloadEvent) => {
      if (discarding) return
      e.preventDefault()
      // Older Chromium asks only when returnValue is set; the text itself is never shown.
      e.returnValue = QUESTION
    }
    window.addEventListener('beforeunload', ask)
    const unguard = guardLeaving(() => window.confirm(QUESTION))
    return () => {
      window.removeEventListener('beforeunload', ask)
      unguard()
    }
  }, [unsaved])
  return () => {
    if (form.current) setUnsaved(fieldValues(form.current) !== opened.current)
  }
}

/** Every field's value (or checked state), to compare a form with how it opened. */
function fieldValues(form: HTMLFormElement): string {
  return JSON.stringify(
    Array.from(form.elements, (el) => {
      if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio')) return el.checked
      return el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement ? el.value : null
    }),
  )
}
