/**
 * Stored text made safe to show on a terminal. A description or label is anyone's text, and an
 * ESC in it would reach the terminal as a command (colours, a moved cursor, a retitled window,
 * OSC 52 clipboard writes). Every control character — C0, DEL and C1 — is shown in caret notation
 * instead, as `cat -v` shows it, and as kubectl shows ESC (`^[`, since kubernetes#101695):
 * readable, and never a command. Line breaks and tabs become spaces first, as a cell is one line.
 * Only human-readable formats use this; json and yaml keep the data exact (both escape it).
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\r\n\t]/g, ' ').replace(/\p{Cc}/gu, caret) // Cc: C0, DEL and C1
}

function caret(c: string): string {
  const code = c.charCodeAt(0)
  if (code === 0x7f) return '^?'
  // C1 (U+0080–U+009F, e.g. U+009B, a one-character CSI) as `cat -v` shows the byte: M-^[.
  return code < 0x20 ? `^${String.fromCharCode(code + 0x40)}` : `M-^${String.fromCharCode(code - 0x40)}`
}
