/**
 * The one bridge between undici's two handler styles, so that the rest of grayDispatcher is written once.
 *
 * - Old style: `onConnect(abort)`, `onHeaders(status, rawHeaders, resume, statusText)`, `onData`, `onComplete`,
 *   `onError`, `onUpgrade`; backpressure by returning false. The fetch of Node 20, 22 and 24 passes it, and undici 6
 *   (Node 20/22) dispatches nothing else.
 * - New style: `onRequestStart(controller, context)`, `onResponseStart(controller, status, headers, statusMessage)`,
 *   `onResponseData`, `onResponseEnd`, `onResponseError`, `onRequestUpgrade`; backpressure by `controller.pause()`.
 *   Node 26's fetch passes it, and undici 7+'s request() may.
 *
 * graykit's routed request (routed-request.ts) is an old-style handler, since that is the style every Node's
 * dispatcher takes (Node 26's new-style-only Agent through undici's own Dispatcher1Wrapper). A new-style caller is
 * seen through ControllerAdapter, made once at dispatch: the converse of what undici's lib/handler/wrap-handler.js
 * does for its own core. undici tells the styles apart by `typeof handler.onRequestStart`; so does isControllerHandler.
 */

type Callback = (...args: unknown[]) => unknown;

/** An undici handler of either style, as graykit calls it: only the callbacks it has are called. */
export type Handler = Record<string, Callback | undefined>;

/** Whether undici would treat `handler` as a new-style (controller) handler. */
export function isControllerHandler(handler: object): boolean {
  return typeof (handler as Handler).onRequestStart === 'function';
}

/** `handler` as an old-style handler: itself when it is one, else the adapter around it. */
export function asOldStyleHandler(handler: object): Handler {
  return isControllerHandler(handler) ? (new ControllerAdapter(handler as Handler) as unknown as Handler) : (handler as Handler);
}

/** Raw headers (`[name, value, …]`, Buffers or strings) as the new style's object: lower-case names, repeats as arrays. */
export function headersObject(raw: unknown): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  if (!Array.isArray(raw)) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = String(raw[i]).toLowerCase();
    const value = String(raw[i + 1]);
    const previous = out[name];
    if (previous === undefined) out[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else out[name] = [previous, value];
  }
  return out;
}

/**
 * The controller a new-style caller gets: one for the whole request, acting on whichever attempt the routed request
 * has in flight through the abort and resume functions the old style hands over.
 */
class AdapterController {
  aborted = false;
  paused = false;
  reason: unknown = null;
  /** undici 8's fetch reads these in onResponseStart and onResponseEnd. */
  rawHeaders: unknown = null;
  rawTrailers: unknown = null;
  abortRequest: ((reason?: unknown) => void) | null = null;
  resumeResponse: Callback | null = null;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.abortRequest?.(reason);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.resumeResponse?.();
  }
}

/** A new-style handler, called through the old style's callbacks. */
class ControllerAdapter {
  private readonly controller = new AdapterController();

  constructor(private readonly handler: Handler) {}

  onConnect(abort: (reason?: unknown) => void): void {
    this.controller.abortRequest = abort;
    this.handler.onRequestStart?.(this.controller, {});
  }

  onResponseStarted(): unknown {
    return this.handler.onResponseStarted?.();
  }

  onHeaders(statusCode: number, rawHeaders: unknown, resume: Callback, statusText: unknown): boolean {
    this.controller.rawHeaders = rawHeaders;
    this.controller.resumeResponse = resume;
    this.handler.onResponseStart?.(this.controller, statusCode, headersObject(rawHeaders), statusText);
    return !this.controller.paused;
  }

  onData(chunk: unknown): boolean {
    this.handler.onResponseData?.(this.controller, chunk);
    return !this.controller.paused;
  }

  onComplete(rawTrailers: unknown): void {
    this.controller.rawTrailers = rawTrailers;
    this.handler.onResponseEnd?.(this.controller, headersObject(rawTrailers));
  }

  onError(error: unknown): void {
    this.handler.onResponseError?.(this.controller, error);
  }

  onUpgrade(statusCode: number, rawHeaders: unknown, socket: unknown): void {
    this.controller.rawHeaders = rawHeaders;
    this.handler.onRequestUpgrade?.(this.controller, statusCode, headersObject(rawHeaders), socket);
  }
}
