import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Java's own HTTP client (java.net.http, JDK 11+), as a Java service calls another: HTTP/2 by
 * default, so on a plain-http URL it asks to upgrade to h2c, with a body too. Sends each request
 * in turn on one client to 127.0.0.1:`port` with `host` as Host (a header Java restricts unless
 * told otherwise) and prints, per request, "METHOD STATUS VERSION" and the answer's body on the
 * next line, or "METHOD EXCEPTION" and its message where the call failed.
 */
const SOURCE = `
import java.net.URI;
import java.net.http.*;
import java.time.Duration;

public class Calls {
  public static void main(String[] a) throws Exception {
    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    for (int i = 3; i < a.length; i++) {
      String[] call = a[i].split(" ");
      int bodyBytes = Integer.parseInt(call[2]);
      HttpRequest.BodyPublisher body = bodyBytes == 0 ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString("x".repeat(bodyBytes));
      HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a[0] + call[1]))
        .header("Host", a[1]).header("Authorization", "Bearer " + a[2])
        .method(call[0], body).timeout(Duration.ofSeconds(10)).build();
      try {
        HttpResponse<String> r = client.send(req, HttpResponse.BodyHandlers.ofString());
        System.out.println(call[0] + " " + r.statusCode() + " " + r.version());
        System.out.println(r.body().replace("\\n", " "));
      } catch (java.io.IOException e) {
        System.out.println(call[0] + " " + e.getClass().getSimpleName());
        System.out.println(String.valueOf(e.getMessage()).replace("\\n", " "));
      }
    }
  }
}
`

export interface JavaCall {
  method: string
  path: string
  bodyBytes: number
}

export async function javaHttpClient(port: number, host: string, token: string, calls: JavaCall[]): Promise<{ code: number; answers: { line: string; body: string }[]; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'postern-java-'))
  writeFileSync(join(dir, 'Calls.java'), SOURCE)
  const args = ['-Djdk.httpclient.allowRestrictedHeaders=host', join(dir, 'Calls.java'), String(port), host, token, ...calls.map((c) => `${c.method} ${c.path} ${c.bodyBytes}`)]
  return new Promise((resolve) => {
    execFile('java', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const lines = stdout.split('\n')
      const answers = []
      for (let i = 0; i + 1 < lines.length; i += 2) answers.push({ line: lines[i]!, body: lines[i + 1]! })
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, answers, stderr })
    })
  })
}
