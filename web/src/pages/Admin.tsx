/**
 * Admin: the token (kept in sessionStorage, for this tab's session only), and
 * plugins: install from an npm spec, a directory or a .tgz path on the
 * server, upgrade (install again, newer version), uninstall with confirmation.
 */
import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { CatalogQuery, InstallPluginMutation, UninstallPluginMutation } from '../operations';
import { adminToken, setAdminToken } from '../client';
import { StatusBadge } from '../components/StatusBadge';
import { FieldError } from '../components/FieldError';

interface Outcome {
  ok: boolean;
  message: string;
}

export function AdminPage() {
  const [token, setToken] = useState(adminToken() ?? '');
  const [saved, setSaved] = useState(Boolean(adminToken()));
  const [spec, setSpec] = useState('');
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [specErrors, setSpecErrors] = useState<string[]>([]);
  const [confirming, setConfirming] = useState<string | null>(null);
  const specInput = useRef<HTMLInputElement>(null);
  const [{ data }, refetch] = useQuery({ query: CatalogQuery });
  const [installing, install] = useMutation(InstallPluginMutation);
  const [removing, uninstall] = useMutation(UninstallPluginMutation);

  const saveToken = (e: FormEvent) => {
    e.preventDefault();
    setAdminToken(token.trim() || null);
    setSaved(Boolean(token.trim()));
  };
  const forget = () => {
    setAdminToken(null);
    setToken('');
    setSaved(false);
  };

  const doInstall = async (what: string) => {
    setOutcome(null);
    setSpecErrors([]);
    const res = await install({ spec: what });
    if (res.error) {
      const g = res.error.graphQLErrors[0];
      setOutcome({
        ok: false,
        message: g ? `${g.extensions?.code ?? 'ERROR'}: ${g.message}` : res.error.message,
      });
      return;
    }
    const payload = res.data!.installPlugin;
    if (payload.userErrors.length) {
      setSpecErrors(
        payload.userErrors.filter((e) => e.field?.[0] === 'spec').map((e) => `${e.code}: ${e.message}`),
      );
      const rest = payload.userErrors.filter((e) => e.field?.[0] !== 'spec');
      if (rest.length)
        setOutcome({ ok: false, message: rest.map((e) => `${e.code}: ${e.message}`).join('; ') });
      return;
    }
    const p = payload.plugin!;
    setOutcome({
      ok: true,
      message: `Installed ${p.name} ${p.version} (${p.status}${p.error ? `: ${p.error}` : ''})`,
    });
    refetch({ requestPolicy: 'network-only' });
  };
  const submitInstall = (e: FormEvent) => {
    e.preventDefault();
    void doInstall(spec.trim());
  };
  const doUninstall = async (name: string) => {
    setConfirming(null);
    setOutcome(null);
    const res = await uninstall({ name });
    if (res.error) {
      const g = res.error.graphQLErrors[0];
      setOutcome({
        ok: false,
        message: g ? `${g.extensions?.code ?? 'ERROR'}: ${g.message}` : res.error.message,
      });
      return;
    }
    const payload = res.data!.uninstallPlugin;
    if (payload.userErrors.length)
      setOutcome({ ok: false, message: payload.userErrors.map((e) => `${e.code}: ${e.message}`).join('; ') });
    else setOutcome({ ok: true, message: `Uninstalled ${name}` });
    refetch({ requestPolicy: 'network-only' });
  };

  return (
    <>
      <h1>Admin</h1>
      <section aria-labelledby="token-h">
        <h2 id="token-h">Admin token</h2>
        <form onSubmit={saveToken} className="inline-form">
          <label htmlFor="admin-token">Token</label>
          <input
            id="admin-token"
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby="token-help"
          />
          <button type="submit">Use token</button>
          <button type="button" className="secondary" onClick={forget}>
            Forget
          </button>
        </form>
        <p id="token-help" className="muted" data-testid="token-state">
          {saved ? 'A token is set for this browser session.' : 'No token: admin operations will be refused.'}{' '}
          It is kept for this tab's session only; the server prints where its token is at start.
        </p>
      </section>
      <section aria-labelledby="install-h">
        <h2 id="install-h">Install or upgrade a plugin</h2>
        <form onSubmit={submitInstall} className="inline-form">
          <label htmlFor="plugin-spec">npm spec, directory or .tgz path</label>
          <input
            id="plugin-spec"
            ref={specInput}
            value={spec}
            onChange={(e) => setSpec(e.target.value)}
            placeholder="e.g. promptgen-plugin-x@1.2.0 or /srv/plugins/x.tgz"
            aria-describedby="plugin-spec-error"
          />
          <button type="submit" className="primary" disabled={installing.fetching || spec.trim() === ''}>
            {installing.fetching ? 'Installing…' : 'Install'}
          </button>
        </form>
        <FieldError id="plugin-spec-error" messages={specErrors} />
        {outcome && (
          <p
            role={outcome.ok ? 'status' : 'alert'}
            className={outcome.ok ? 'ok-text' : 'error-text'}
            data-testid="admin-outcome"
          >
            {outcome.message}
          </p>
        )}
      </section>
      <section aria-labelledby="installed-h">
        <h2 id="installed-h">Plugins</h2>
        <div className="table-wrap">
          <table data-testid="admin-plugins">
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
                <th scope="col">Source</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {data?.plugins.map((p) => (
                <tr key={p.id}>
                  <td>
                    {p.name}
                    {p.spec && <div className="muted">from {p.spec}</div>}
                  </td>
                  <td>{p.version}</td>
                  <td>{p.source}</td>
                  <td>
                    <StatusBadge status={p.status} />
                    {p.error && <div className="error-text">{p.error}</div>}
                  </td>
                  <td>
                    {p.source === 'INSTALLED' &&
                      (confirming === p.name ? (
                        <span role="group" aria-label={`Confirm uninstalling ${p.name}`}>
                          Uninstall {p.name}?{' '}
                          <button
                            type="button"
                            className="danger"
                            onClick={() => doUninstall(p.name)}
                            disabled={removing.fetching}
                          >
                            Yes, uninstall {p.name}
                          </button>{' '}
                          <button type="button" className="secondary" onClick={() => setConfirming(null)}>
                            Keep it
                          </button>
                        </span>
                      ) : (
                        <>
                          <button
                            type="button"
                            onClick={() => {
                              // An upgrade is an install of the newer spec: start from the one it came from.
                              setSpec(p.spec ?? p.name);
                              specInput.current?.focus();
                            }}
                          >
                            Upgrade {p.name}
                          </button>{' '}
                          <button type="button" className="danger" onClick={() => setConfirming(p.name)}>
                            Uninstall {p.name}
                          </button>
                        </>
                      ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
