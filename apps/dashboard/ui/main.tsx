import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { DagList } from './dags.js';
import { DagPage } from './dag.js';
import { Link, RoleContext, useData, useRoute } from './lib.js';
import { TaskPage } from './task.js';
import { DatasetsPage, PoolsPage } from './admin.js';
import { ConnectionsPage } from './connections.js';

type Theme = 'system' | 'light' | 'dark';

function ThemeSwitch() {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('aloft-theme') as Theme | null) ?? 'system');
  useEffect(() => {
    localStorage.setItem('aloft-theme', theme);
    // One set of dark colours in the CSS (data-theme); "system" follows the OS as it changes.
    const media = matchMedia('(prefers-color-scheme: dark)');
    const apply = () => (document.documentElement.dataset['theme'] = theme === 'system' ? (media.matches ? 'dark' : 'light') : theme);
    apply();
    media.addEventListener('change', apply);
    return () => media.removeEventListener('change', apply);
  }, [theme]);
  return (
    <label class="theme">
      <span class="sr-only">Theme</span>
      <select value={theme} onChange={(e) => setTheme(e.currentTarget.value as Theme)} aria-label="Theme">
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}

function App() {
  const { path, query } = useRoute();
  const me = useData(() => api.me(), []);
  const dagMatch = /^\/dags\/([^/]+)\/?$/.exec(path);
  const tiMatch = /^\/dags\/([^/]+)\/runs\/([^/]+)\/tasks\/([^/]+)\/?$/.exec(path);
  let view;
  // `?mapIndex=i`: one instance of a mapped task (the link of each row of its instance list).
  const mapIndex = /^\d+$/.test(query.get('mapIndex') ?? '') ? Number(query.get('mapIndex')) : -1;
  if (tiMatch)
    view = (
      <TaskPage
        key={`${path}#${mapIndex}`}
        dagId={decodeURIComponent(tiMatch[1]!)}
        runId={decodeURIComponent(tiMatch[2]!)}
        taskId={decodeURIComponent(tiMatch[3]!)}
        mapIndex={mapIndex}
      />
    );
  else if (dagMatch) view = <DagPage dagId={decodeURIComponent(dagMatch[1]!)} />;
  else if (path === '/' || path === '/dags' || path === '/dags/') view = <DagList />;
  else if (path === '/pools') view = <PoolsPage />;
  else if (path === '/datasets') view = <DatasetsPage />;
  else if (path === '/connections') view = <ConnectionsPage />;
  else view = <p class="error">No page at {path}.</p>;
  return (
    <RoleContext.Provider value={me.data?.role ?? 'viewer'}>
      <header class="top">
        <Link href="/" class="brand">
          Aloft
        </Link>
        <nav>
          <Link href="/">DAGs</Link>
          <Link href="/pools">Pools</Link>
          <Link href="/datasets">Datasets</Link>
          <Link href="/connections">Connections</Link>
          <a href="/queues/">Queues</a>
          <a href="/api/v1/openapi.json">API</a>
        </nav>
        <span class="spacer" />
        <ThemeSwitch />
        {me.data && (
          <form method="post" action="/logout" class="user">
            <span title={`role: ${me.data.role}`}>{me.data.username}</span>
            <button type="submit" class="link">
              Sign out
            </button>
          </form>
        )}
      </header>
      <main>{view}</main>
    </RoleContext.Provider>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
