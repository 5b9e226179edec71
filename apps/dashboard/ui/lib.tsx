import { createContext, type ComponentChildren, type JSX } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api.js';

export type Role = 'viewer' | 'operator' | 'admin';
export const RoleContext = createContext<Role>('viewer');
export const useCanOperate = () => useContext(RoleContext) !== 'viewer';

// ── Routing: paths are the UI's state, so every view has a link that can be shared ──

type Listener = () => void;
const routeListeners = new Set<Listener>();

export function navigate(to: string, replace = false): void {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  routeListeners.forEach((l) => l());
  if (!replace) window.scrollTo(0, 0);
}

addEventListener('popstate', () => routeListeners.forEach((l) => l()));

export function useRoute(): { path: string; query: URLSearchParams } {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = () => bump((n) => n + 1);
    routeListeners.add(l);
    return () => void routeListeners.delete(l);
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Sets one query parameter of the current page without a new history entry. */
export function setQuery(name: string, value: string | undefined): void {
  const q = new URLSearchParams(location.search);
  if (value === undefined) q.delete(name);
  else q.set(name, value);
  const s = q.toString();
  navigate(`${location.pathname}${s ? `?${s}` : ''}`, true);
}

export function Link(props: { href: string; children: ComponentChildren } & Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const { href, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      onClick={(e) => {
        if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

export const dagHref = (dagId: string, q: Record<string, string> = {}) => {
  const s = new URLSearchParams(q).toString();
  return `/dags/${encodeURIComponent(dagId)}${s ? `?${s}` : ''}`;
};
/** A task's page; with a map index ≥ 0, the page of that instance of a mapped task. */
export const tiHref = (dagId: string, runId: string, taskId: string, mapIndex = -1) =>
  `/dags/${encodeURIComponent(dagId)}/runs/${encodeURIComponent(runId)}/tasks/${encodeURIComponent(taskId)}${mapIndex >= 0 ? `?mapIndex=${mapIndex}` : ''}`;

// ── Data loading and live updates ──

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  reload: () => void;
}

/** Loads with `fn`, again whenever `deps` change or `reload()` is called; keeps the last data while reloading. */
export function useData<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    fn().then(
      (d) => {
        if (mine !== seq.current) return;
        setData(d);
        setError(undefined);
      },
      (err: unknown) => {
        if (mine === seq.current) setError(err instanceof Error ? err.message : String(err));
      },
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  useEffect(() => {
    setData(undefined);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, reload };
}

export interface LiveChange {
  type: 'run' | 'ti' | 'dag';
  dagId: string;
  runId: string;
  taskId: string;
  /** The instance of a mapped task, −1 when unmapped (or for the mapped task as a whole). */
  mapIndex: number;
  state: string;
}

/**
 * Calls `onChange` for transitions matching `query` (dagId, runId, types), at most once
 * per `everyMs` with the latest batch, so a busy DAG does not re-render per event.
 */
export function useLive(query: Record<string, string | undefined>, onChange: (batch: LiveChange[]) => void, everyMs = 400): boolean {
  const [connected, setConnected] = useState(false);
  const cb = useRef(onChange);
  cb.current = onChange;
  const qs = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
  useEffect(() => {
    const es = new EventSource(`/api/v1/events${qs ? `?${qs}` : ''}`);
    let batch: LiveChange[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const take = (e: MessageEvent<string>) => {
      batch.push(JSON.parse(e.data) as LiveChange);
      timer ??= setTimeout(() => {
        timer = undefined;
        const b = batch;
        batch = [];
        cb.current(b);
      }, everyMs);
    };
    es.addEventListener('run', take);
    es.addEventListener('ti', take);
    es.addEventListener('dag', take);
    es.addEventListener('ready', () => setConnected(true));
    es.onerror = () => setConnected(false);
    return () => {
      es.close();
      if (timer) clearTimeout(timer);
    };
  }, [qs, everyMs]);
  return connected;
}

// ── Formatting ──

export function fmtTime(ms: number | undefined | null): string {
  if (!ms) return '—';
  const d = new Date(ms);
  const today = new Date();
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

export function fmtDuration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtAgo(ms: number | null | undefined): string {
  if (!ms) return '—';
  const d = ms - Date.now();
  const abs = Math.abs(d);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (abs < 60_000) return rtf.format(Math.round(d / 1000), 'second');
  if (abs < 3_600_000) return rtf.format(Math.round(d / 60_000), 'minute');
  if (abs < 86_400_000) return rtf.format(Math.round(d / 3_600_000), 'hour');
  return rtf.format(Math.round(d / 86_400_000), 'day');
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge st-${state}`}>{state.replace(/_/g, ' ')}</span>;
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.field && err.field !== 'body' ? `${err.message} (${err.field})` : err.message;
  return err instanceof Error ? err.message : String(err);
}

// ── Confirmation before any change ──

export interface ConfirmSpec {
  title: string;
  body?: ComponentChildren;
  confirm: string;
  danger?: boolean;
  run: () => Promise<unknown>;
}

/** A modal that asks before acting, shows the server's error if the action fails, and closes when it succeeds. */
export function ConfirmDialog({ spec, onClose }: { spec: ConfirmSpec | undefined; onClose: (done: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (spec && !d.open) {
      setError(undefined);
      d.showModal();
    } else if (!spec && d.open) d.close();
  }, [spec]);
  // Never rejects: a failed action shows its error in the dialog.
  const confirm = async (s: ConfirmSpec): Promise<void> => {
    setBusy(true);
    try {
      await s.run();
      onClose(true);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} class="modal" onClose={() => spec && onClose(false)} aria-labelledby="confirm-title">
      {spec && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void confirm(spec);
          }}
        >
          <h2 id="confirm-title">{spec.title}</h2>
          {spec.body && <div class="modal-body">{spec.body}</div>}
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="button" onClick={() => onClose(false)}>
              Cancel
            </button>
            <button type="submit" class={spec.danger ? 'danger' : 'primary'} disabled={busy}>
              {spec.confirm}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** One confirm dialog per view: `ask(spec)` opens it; `dialog` goes in the view's tree. */
export function useConfirm(after?: () => void): { ask: (s: ConfirmSpec) => void; dialog: JSX.Element } {
  const [spec, setSpec] = useState<ConfirmSpec | undefined>(undefined);
  const dialog = (
    <ConfirmDialog
      spec={spec}
      onClose={(done) => {
        setSpec(undefined);
        if (done) after?.();
      }}
    />
  );
  return { ask: setSpec, dialog };
}
