import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react'
import { SessionNotice } from './session-notice.tsx'
import { useUnsavedInputWarning } from './unsaved-input.ts'

/**
 * A modal dialog on the native <dialog> element: the browser traps focus, closes on Escape and
 * gives it the dialog role; it is opened with showModal() once mounted, and unmounted to close.
 */
export function Modal({ title, onClose, onSubmit, children, footer, wide }: {
  title: string
  onClose: () => void
  onSubmit?: (e: FormEvent<HTMLFormElement>) => void
  children: ReactNode
  footer: ReactNode
  wide?: boolean
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId()
  const formRef = useRef<HTMLFormElement>(null)
  const noteInput = useUnsavedInputWarning(formRef)
  // What had focus when the dialog opened (the button that opened it): focus goes back to it on
  // close. The browser would do so itself, but React has taken the dialog out of the page by the
  // time it is closed here, and focus would fall to the page's body.
  const [opener] = useState(() => document.activeElement)
  useEffect(() => {
    const dialog = ref.current
    if (dialog && !dialog.open) dialog.showModal()
    return () => {
      dialog?.close()
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus()
    }
  }, [opener])
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    onSubmit?.(e)
  }
  return (
    <dialog
      ref={ref}
      className={wide ? 'modal modal-wide' : 'modal'}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault()
        onClose()
      }}
    >
      <form ref={formRef} onSubmit={submit} onChange={noteInput} noValidate>
        <h2 id={titleId} className="modal-title">{title}</h2>
        <div className="modal-body">
          {children}
          <SessionNotice />
        </div>
        <div className="modal-footer">{footer}</div>
      </form>
    </dialog>
  )
}

/** A form dialog's footer: Cancel, and the submit button, which says what it is doing while busy. */
export function SubmitActions({ label, busyLabel, busy, onCancel }: { label: string; busyLabel: string; busy: boolean; onCancel: () => void }) {
  return (
    <>
      <button type="button" className="button" onClick={onCancel}>Cancel</button>
      <button type="submit" className="button button-primary" disabled={busy}>{busy ? busyLabel : label}</button>
    </>
  )
}

/** Asks before something that cannot be undone; shows the failure inside the dialog if it fails. */
export function ConfirmDialog({ title, children, confirmLabel, busy, error, onConfirm, onClose }: {
  title: string
  children: ReactNode
  confirmLabel: string
  busy: boolean
  error: string | undefined
  onConfirm: () => void
  onClose: () => void
}) {
  return (
    <Modal
      title={title}
      onClose={onClose}
      onSubmit={onConfirm}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="button button-danger" disabled={busy} autoFocus>{busy ? 'Working…' : confirmLabel}</button>
        </>
      }
    >
      {children}
      <ErrorText message={error} />
    </Modal>
  )
}

/** An error shown where it happened, announced to screen readers. */
export function ErrorText({ message, id }: { message: string | undefined; id?: string }) {
  if (!message) return null
  return <p className="error-text" role="alert" id={id}>{message}</p>
}
