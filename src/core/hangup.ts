/**
 * What a SIGHUP means: with the output on a terminal, that the terminal closed (an ssh session
 * ended), so Postern stops as for SIGTERM rather than die mid-request (Node's default) or write on
 * to a terminal that is gone; otherwise (systemd, a container, nohup) it is `systemctl reload` or
 * a certbot deploy hook's `kill -HUP`, and the TLS files are read again (main.ts, Running.reload).
 */
export function terminalHungUp(): boolean {
  return Boolean(process.stdout.isTTY || process.stderr.isTTY)
}
