import { useEffect, useState } from "react";
import { api } from "./api/client";
import type { Me, Workspace } from "./api/types";
import { ErrorBox } from "./components/ErrorBox";
import { Generated } from "./pages/generated/Generated";
import { Jobs } from "./pages/Jobs";
import { Members } from "./pages/members/Members";
import { Review } from "./pages/Review";
import { Search } from "./pages/search/Search";
import { Publishing } from "./pages/publish/Publishing";
import { Streams } from "./pages/live/Streams";
import { BrandKits } from "./pages/brand/BrandKits";
import { Library } from "./pages/library/Library";
import { SignIn } from "./pages/SignIn";
import { Styler } from "./pages/style/Styler";
import { CutEditor } from "./pages/edit/CutEditor";
import { Sources } from "./pages/edit/Sources";
import { RoleContext } from "./role";
import { href, navigate, useRoute } from "./router";

const WORKSPACE_KEY = "clipray.workspace";

/** The frame: who is signed in, which workspace they act in, and the page of the route. */
export function App() {
  const route = useRoute();
  const [signedIn, setSignedIn] = useState(api.signedIn);
  const [me, setMe] = useState<Me | null>(null);
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [workspaceId, setWorkspaceId] = useState<string | null>(() => localStorage.getItem(WORKSPACE_KEY));
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    api.onSignedOut = () => setSignedIn(false);
  }, []);

  useEffect(() => {
    if (!signedIn) return;
    const stop = new AbortController();
    Promise.all([api.get<Me>("/api/auth/me", stop.signal), api.get<Workspace[]>("/api/workspaces", stop.signal)])
      .then(([who, list]) => {
        setMe(who);
        setWorkspaces(list);
        // A remembered workspace the user has left falls back to the personal one.
        setWorkspaceId((ws) => (ws && list.some((w) => w.id === ws) ? ws : who.workspace_id));
      })
      .catch((err) => !stop.signal.aborted && setError(err));
    return () => stop.abort();
  }, [signedIn]);

  api.workspaceId = workspaceId;
  useEffect(() => {
    if (workspaceId) localStorage.setItem(WORKSPACE_KEY, workspaceId);
  }, [workspaceId]);

  if (!signedIn || route.page === "signin") {
    return (
      <SignIn
        onSignedIn={() => {
          setSignedIn(true);
          navigate({ page: "jobs" });
        }}
      />
    );
  }

  const role = workspaces.find((w) => w.id === workspaceId)?.role;
  return (
    <div className="app">
      <header className="topbar">
        <a className="brand" href={href({ page: "jobs" })}>
          clipray studio
        </a>
        <nav>
          <a href={href({ page: "jobs" })} aria-current={route.page === "jobs" ? "page" : undefined}>
            Jobs
          </a>
          <a href={href({ page: "sources" })} aria-current={route.page === "sources" || route.page === "edit" ? "page" : undefined}>Sources</a>
          <a href={href({ page: "search" })} aria-current={route.page === "search" ? "page" : undefined}>
            Search
          </a>
          <a href={href({ page: "generated" })} aria-current={route.page === "generated" ? "page" : undefined}>
            Generated
          </a>
          <a href={href({ page: "members" })} aria-current={route.page === "members" ? "page" : undefined}>
            Members
          </a>
          <a href={href({ page: "streams" })} aria-current={route.page === "streams" ? "page" : undefined}>Streams</a>
          <a href={href({ page: "publish" })} aria-current={route.page === "publish" ? "page" : undefined}>Publishing</a>
          <a href={href({ page: "brand" })} aria-current={route.page === "brand" ? "page" : undefined}>Brand</a>
          <a href={href({ page: "library" })} aria-current={route.page === "library" ? "page" : undefined}>Library</a>
        </nav>
        <label className="workspace">
          <span className="visually-hidden">Workspace</span>
          <select aria-label="workspace" value={workspaceId ?? ""} onChange={(e) => setWorkspaceId(e.target.value)}>
            {workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.name} ({w.role})
              </option>
            ))}
          </select>
        </label>
        <span className="who muted" title={role}>
          {me?.email}
        </span>
        <button
          type="button"
          onClick={() => {
            void api.signOut();
            localStorage.removeItem(WORKSPACE_KEY);
            setWorkspaceId(null);
            setSignedIn(false);
          }}
        >
          Sign out
        </button>
      </header>
      <ErrorBox error={error} onDismiss={() => setError(null)} />
      <RoleContext.Provider value={role}>
        {me && workspaceId && route.page === "sources" && <Sources key={workspaceId} />}
        {me && workspaceId && route.page === "edit" && <CutEditor key={`${workspaceId}-${route.sourceId}`} sourceId={route.sourceId} />}
        {me && workspaceId && route.page === "style" && <Styler key={`${workspaceId}-${route.clipId}`} clipId={route.clipId} />}
        {me && workspaceId && route.page === "clips" && <Review key={`${workspaceId}-${route.jobId}`} jobId={route.jobId} />}
        {me && workspaceId && route.page === "search" && <Search key={workspaceId} />}
        {me && workspaceId && route.page === "generated" && <Generated workspaceId={workspaceId} />}
        {me && workspaceId && route.page === "members" && <Members key={workspaceId} workspaceId={workspaceId} myId={me.id} />}
        {me && workspaceId && route.page === "streams" && <Streams key={workspaceId} workspaceId={workspaceId} streamId={route.streamId} />}
        {me && workspaceId && route.page === "publish" && <Publishing key={workspaceId} role={role} />}
        {me && workspaceId && route.page === "jobs" && <Jobs workspaceId={workspaceId} />}
        {me && workspaceId && route.page === "brand" && <BrandKits key={workspaceId} />}
        {me && workspaceId && route.page === "library" && <Library key={workspaceId} />}
      </RoleContext.Provider>
    </div>
  );
}
