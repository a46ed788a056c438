// The dashboard: log in (the `?token=` of the printed URL is traded for a session cookie and
// removed from the address bar), then the pages under a hash router, kept live over SSE.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, session, setUnauthenticatedHandler, type Me } from './api.js';
import { connect, disconnect, onStatus } from './live.js';
import { useRoute } from './hooks.js';
import { PoolPage } from './pages/Pool.js';
import { QueuePage } from './pages/Queue.js';
import { TasksPage } from './pages/Tasks.js';
import { TaskDetailPage } from './pages/TaskDetail.js';
import { SweepsPage } from './pages/Sweeps.js';
import { UsagePage } from './pages/Usage.js';
import { UtilisationPage } from './pages/Utilisation.js';
import './styles.css';

const NAV = [
  { id: 'pool', label: 'Pool' },
  { id: 'queue', label: 'Queue' },
  { id: 'tasks', label: 'Tasks' },
  { id: 'sweeps', label: 'Sweeps' },
  { id: 'usage', label: 'Usage' },
  { id: 'utilisation', label: 'Utilisation' },
] as const;

type Auth = { state: 'checking' } | { state: 'in'; me: Me } | { state: 'out'; message: string | null };

/** Takes `?token=` off the address bar (keeping the rest) and answers it. */
function takeTokenFromUrl(): string | null {
  const url = new URL(location.href);
  const token = url.searchParams.get('token');
  if (token === null) return null;
  url.searchParams.delete('token');
  history.replaceState(null, '', url.pathname + url.search + url.hash);
  return token;
}

async function startSession(): Promise<Auth> {
  const token = takeTokenFromUrl();
  if (token) {
    try {
      return { state: 'in', me: await api.login(token) };
    } catch (e) {
      // Maybe an old link while a session is still open: fall through to the check.
      try {
        return { state: 'in', me: await api.me() };
      } catch {
        return { state: 'out', message: e instanceof Error ? e.message : String(e) };
      }
    }
  }
  try {
    return { state: 'in', me: await api.me() };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return { state: 'out', message: null };
    return { state: 'out', message: `Cannot reach the server: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function Login({ message, onIn }: { message: string | null; onIn: (me: Me) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(message);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>FastGPU</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          api
            .login(token)
            .then(onIn, (err: unknown) => setError(err instanceof Error ? err.message : String(err)))
            .finally(() => setBusy(false));
        }}
      >
        <p>Open the link that <code>fastgpu up</code> printed, or paste an API token (the admin token is in <code>&lt;data-dir&gt;/admin.token</code>).</p>
        <label for="token">API token</label>
        <input id="token" type="password" autocomplete="current-password" value={token} onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} required />
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token === ''}>
          Log in
        </button>
      </form>
    </main>
  );
}

function LiveBadge() {
  const [s, setS] = useState<'connecting' | 'live' | 'reconnecting'>('connecting');
  useEffect(() => onStatus(setS), []);
  return (
    <span class={`live live-${s}`} role="status" aria-live="polite">
      {s === 'live' ? 'Live' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…'}
    </span>
  );
}

function Pages() {
  const route = useRoute();
  const [page = 'pool', id] = route;
  useEffect(() => {
    document.title = `${page === 'tasks' && id ? `Task ${id}` : (NAV.find((n) => n.id === page)?.label ?? 'Pool')} · FastGPU`;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [page, id]);
  switch (page) {
    case 'queue':
      return <QueuePage />;
    case 'tasks':
      return id ? <TaskDetailPage key={id} id={id} /> : <TasksPage />;
    case 'sweeps':
      return <SweepsPage id={id} />;
    case 'usage':
      return <UsagePage />;
    case 'utilisation':
      return <UtilisationPage />;
    default:
      return <PoolPage />;
  }
}

function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const route = useRoute();
  useEffect(() => {
    void startSession().then(setAuth);
    setUnauthenticatedHandler(() => {
      disconnect();
      setAuth({ state: 'out', message: 'Your session ended (the server restarted or the token was revoked). Log in again.' });
    });
  }, []);
  useEffect(() => {
    if (auth.state === 'in') connect();
  }, [auth.state]);

  session.me = auth.state === 'in' ? auth.me : null;
  if (auth.state === 'checking') return <p class="pad">Loading FastGPU…</p>;
  if (auth.state === 'out') return <Login message={auth.message} onIn={(me) => setAuth({ state: 'in', me })} />;
  const current = route[0] ?? 'pool';
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/pool">
          FastGPU
        </a>
        <nav aria-label="Pages">
          <ul>
            {NAV.map((n) => (
              <li key={n.id}>
                <a href={`#/${n.id}`} aria-current={current === n.id ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="grow" />
        <LiveBadge />
        <span class="muted who" title={`role ${auth.me.role}`}>
          {auth.me.tenant}
        </span>
        <button
          type="button"
          class="link"
          onClick={() => {
            disconnect();
            void api.logout().finally(() => setAuth({ state: 'out', message: null }));
          }}
        >
          Log out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Pages />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
