/**
 * The one `Accept` rule for error answers, on both planes: a browser that asks for HTML and not
 * for JSON gets a small page with the same words; everyone else gets the JSON error shape.
 * (Whether a request is a navigation to send to sign in is a different question, answered by
 * gateway/browser/navigation.ts.)
 */
export function wantsHtml(accept: string | undefined): boolean {
  return accept !== undefined && /\btext\/html\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept)
}
