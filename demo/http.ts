/** The demo runner's HTTP client: JSON over one keep-alive agent, to 127.0.0.1 only. */
import http from 'node:http';

const REQUEST_TIMEOUT_MS = 5000;

export interface JsonResponse<T> {
  status: number;
  body: T;
}

export class LocalJsonClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  get<T>(port: number, path: string): Promise<JsonResponse<T>> {
    return this.request('GET', port, path);
  }

  post<T>(port: number, path: string): Promise<JsonResponse<T>> {
    return this.request('POST', port, path);
  }

  /** Closes the kept-alive sockets, so that they hold neither the event loop nor the servers' close(). */
  close(): void {
    this.agent.destroy();
  }

  private request<T>(method: string, port: number, path: string): Promise<JsonResponse<T>> {
    return new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, path, method, agent: this.agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as T });
          } catch {
            reject(new Error(`${method} 127.0.0.1:${port}${path}: HTTP ${response.statusCode}, not JSON: ${text.slice(0, 200)}`));
          }
        });
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`${method} 127.0.0.1:${port}${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)));
      request.on('error', reject);
      request.end();
    });
  }
}
