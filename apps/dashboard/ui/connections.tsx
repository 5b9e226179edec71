import { useContext, useState } from 'preact/hooks';
import { api, type ConnectionInput, type ConnectionSummary, type VariableSummary } from './api.js';
import { errorText, fmtAgo, RoleContext, useConfirm, useData } from './lib.js';

/**
 * Connections and variables in Aloft's own store (Airflow's Admin → Connections, Variables).
 * Passwords and secret values are write-only: the page sends them and never gets them back.
 * A viewer sees names only. Connections and variables from the env and dir backends live
 * outside Aloft and are not listed here.
 */
export function ConnectionsPage() {
  const role = useContext(RoleContext);
  const canEdit = role !== 'viewer';
  const conns = useData(() => api.connections(), []);
  const vars = useData(() => api.variables(), []);
  const audit = useData(() => (canEdit ? api.audit() : Promise.resolve([])), [canEdit]);
  const reload = () => {
    conns.reload();
    vars.reload();
    audit.reload();
  };
  const { ask, dialog } = useConfirm(reload);
  return (
    <section class="connections">
      <h1>Connections</h1>
      <p class="muted">
        Tasks read these with <code>ctx.conn(id)</code> and <code>{'{{ conn.<id>.host }}'}</code>. Passwords are sealed in Redis and never shown again; the
        worker's other backends (<code>ALOFT_CONN_*</code>, a mounted folder) are not listed here.
      </p>
      {conns.error && <p class="error">{conns.error}</p>}
      {conns.data && (
        <div class="table-wrap">
          <table data-table="connections">
            <thead>
              <tr>
                <th>Id</th>
                {canEdit && (
                  <>
                    <th>Type</th>
                    <th>Host</th>
                    <th>Login</th>
                    <th>Password</th>
                    <th>Extra</th>
                    <th>Changed</th>
                    <th />
                  </>
                )}
              </tr>
            </thead>
            <tbody>
              {conns.data.map((c) => (
                <tr key={c.id} data-connection={c.id}>
                  <td>{c.id}</td>
                  {canEdit && (
                    <ConnectionCells
                      c={c}
                      onDelete={() => ask({ title: `Delete connection ${c.id}?`, confirm: 'Delete', danger: true, run: () => api.deleteConnection(c.id) })}
                    />
                  )}
                </tr>
              ))}
              {conns.data.length === 0 && (
                <tr>
                  <td colSpan={8} class="muted">
                    None in Aloft's store.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      )}
      {canEdit && <ConnectionForm onSaved={reload} />}

      <h1>Variables</h1>
      <p class="muted">
        Tasks read these with <code>ctx.variable(key)</code> and <code>{'{{ var.<key> }}'}</code>. Secret ones are masked in task logs and never shown again.
      </p>
      {vars.error && <p class="error">{vars.error}</p>}
      {vars.data && (
        <div class="table-wrap">
          <table data-table="variables">
            <thead>
              <tr>
                <th>Key</th>
                {canEdit && (
                  <>
                    <th>Value</th>
                    <th>Description</th>
                    <th>Changed</th>
                    <th />
                  </>
                )}
              </tr>
            </thead>
            <tbody>
              {vars.data.map((v) => (
                <tr key={v.key} data-variable={v.key}>
                  <td>{v.key}</td>
                  {canEdit && (
                    <VariableCells
                      v={v}
                      onDelete={() => ask({ title: `Delete variable ${v.key}?`, confirm: 'Delete', danger: true, run: () => api.deleteVariable(v.key) })}
                    />
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canEdit && <VariableForm onSaved={reload} />}

      {canEdit && audit.data && audit.data.length > 0 && (
        <>
          <h2>Changes</h2>
          <ul class="audit">
            {audit.data.map((a) => (
              <li key={`${a.at}-${a.kind}-${a.id}`}>
                {fmtAgo(a.at)}: <b>{a.actor}</b> {a.action} {a.kind} <code>{a.id}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      {dialog}
    </section>
  );
}

function ConnectionCells({ c, onDelete }: { c: ConnectionSummary; onDelete: () => void }) {
  return (
    <>
      <td>{c.type}</td>
      <td>{c.host ? `${c.host}${c.port ? `:${c.port}` : ''}${c.schema ? `/${c.schema}` : ''}` : '—'}</td>
      <td>{c.login ?? '—'}</td>
      <td>{c.hasPassword ? 'set' : '—'}</td>
      <td class="muted">{c.extraKeys.join(', ')}</td>
      <td class="muted" title={c.updatedBy}>
        {fmtAgo(c.updatedAt)} by {c.updatedBy}
      </td>
      <td>
        <button type="button" class="link danger" onClick={onDelete}>
          Delete
        </button>
      </td>
    </>
  );
}

function VariableCells({ v, onDelete }: { v: VariableSummary; onDelete: () => void }) {
  return (
    <>
      <td>{v.secret ? <span class="muted">secret</span> : <code>{v.value}</code>}</td>
      <td class="muted">{v.description}</td>
      <td class="muted">
        {fmtAgo(v.updatedAt)} by {v.updatedBy}
      </td>
      <td>
        <button type="button" class="link danger" onClick={onDelete}>
          Delete
        </button>
      </td>
    </>
  );
}

function ConnectionForm({ onSaved }: { onSaved: () => void }) {
  const empty = { id: '', type: 'postgres', host: '', port: '', login: '', password: '', schema: '', extra: '' };
  const [f, setF] = useState(empty);
  const [error, setError] = useState<string | undefined>();
  const field = (k: keyof typeof empty, label: string, type = 'text') => (
    <label>
      {label}
      <input
        name={k}
        type={type}
        autocomplete={type === 'password' ? 'new-password' : 'off'}
        value={f[k]}
        onInput={(e) => setF({ ...f, [k]: e.currentTarget.value })}
      />
    </label>
  );
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body: ConnectionInput = { type: f.type };
      if (f.host) body.host = f.host;
      if (f.port) body.port = Number(f.port);
      if (f.login) body.login = f.login;
      if (f.password) body.password = f.password;
      if (f.schema) body.schema = f.schema;
      if (f.extra) body.extra = JSON.parse(f.extra) as Record<string, unknown>;
      await api.setConnection(f.id, body);
      setF(empty);
      onSaved();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="secret-form" data-form="connection" onSubmit={(e) => void save(e)}>
      <h2>Add or replace a connection</h2>
      <div class="fields">
        {field('id', 'Id')}
        {field('type', 'Type')}
        {field('host', 'Host')}
        {field('port', 'Port')}
        {field('login', 'Login')}
        {field('password', 'Password', 'password')}
        {field('schema', 'Schema')}
        {field('extra', 'Extra (JSON)')}
      </div>
      {error && <p class="error">{error}</p>}
      <button type="submit">Save connection</button>
    </form>
  );
}

function VariableForm({ onSaved }: { onSaved: () => void }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [secret, setSecret] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const save = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      await api.setVariable(key, { value, ...(secret ? { secret: true } : {}) });
      setKey('');
      setValue('');
      setSecret(false);
      onSaved();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form class="secret-form" data-form="variable" onSubmit={(e) => void save(e)}>
      <h2>Set a variable</h2>
      <div class="fields">
        <label>
          Key
          <input name="key" type="text" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <label>
          Value
          <input name="value" type={secret ? 'password' : 'text'} autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input name="secret" type="checkbox" checked={secret} onChange={(e) => setSecret(e.currentTarget.checked)} />
          Secret
        </label>
      </div>
      {error && <p class="error">{error}</p>}
      <button type="submit">Save variable</button>
    </form>
  );
}
