// Per-backend statement counters, latency histograms and errors by code, fed at the end of every
// statement that ran on a backend (ClientSession.onResponseDone). Read by /metrics and the admin views.
// (Stub: filled in by the metrics work; the hot path calls record() once per statement.)

export type StatementRoute = 'primary' | 'replica';

export class StatementStats {
  /** One statement finished on `backend` after `ms`; errorCode 0 = success, else the server's error number. */
  record(_backend: string, _route: StatementRoute, _ms: number, _errorCode: number): void {}
}
