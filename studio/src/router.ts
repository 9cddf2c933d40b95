// Hash routing (/#/jobs, /#/jobs/ID/clips): the server only ever serves /, so no path of the
// studio can collide with the API's, and a reload lands on the same page.

import { useEffect, useState } from "react";

export type Route =
  | { page: "jobs" }
  | { page: "clips"; jobId: string }
  | { page: "signin" }
  | { page: "streams"; streamId?: string }
  | { page: "publish" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "jobs" && parts[1] && parts[2] === "clips") return { page: "clips", jobId: decodeURIComponent(parts[1]) };
  if (parts[0] === "signin") return { page: "signin" };
  if (parts[0] === "streams") return parts[1] ? { page: "streams", streamId: decodeURIComponent(parts[1]) } : { page: "streams" };
  if (parts[0] === "publish") return { page: "publish" };
  return { page: "jobs" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "clips":
      return `#/jobs/${encodeURIComponent(route.jobId)}/clips`;
    case "signin":
      return "#/signin";
    case "streams":
      return route.streamId ? `#/streams/${encodeURIComponent(route.streamId)}` : "#/streams";
    case "publish":
      return "#/publish";
    default:
      return "#/jobs";
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
