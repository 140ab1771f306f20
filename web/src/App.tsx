/** The Studio's frame: navigation and the client routes the server's SPA fallback hands to it. */
import { Link, Route, Switch, useRoute } from 'wouter';
import { CatalogPage } from './pages/Catalog';
import { ComposePage } from './pages/Compose';
import { PromptPage } from './pages/PromptPage';
import { PromptsListPage } from './pages/PromptsList';
import { AdminPage } from './pages/Admin';

function NavLink({ href, children }: { href: string; children: string }) {
  const [active] = useRoute(href === '/prompts' ? '/prompts/*?' : href);
  return (
    <Link href={href} aria-current={active ? 'page' : undefined}>
      {children}
    </Link>
  );
}

export function App() {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">PromptGen Studio</span>
        <nav aria-label="Main">
          <NavLink href="/">Catalog</NavLink>
          <NavLink href="/compose">Compose</NavLink>
          <NavLink href="/prompts">Prompts</NavLink>
          <NavLink href="/admin">Admin</NavLink>
        </nav>
      </header>
      <main id="main">
        <Switch>
          <Route path="/" component={CatalogPage} />
          <Route path="/compose" component={ComposePage} />
          <Route path="/prompts" component={PromptsListPage} />
          <Route path="/prompts/:id">{(params) => <PromptPage key={params.id} id={params.id} />}</Route>
          <Route path="/admin" component={AdminPage} />
          <Route>
            <p role="alert">No such page.</p>
          </Route>
        </Switch>
      </main>
    </>
  );
}
